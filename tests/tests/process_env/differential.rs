//! bsm against botocore, the reference most AWS users' expectations come
//! from: a seeded generator of configurations (keys in the environment,
//! `AWS_PROFILE` / `AWS_DEFAULT_PROFILE`, a profile given or not, config and
//! credentials files whose profiles use static keys, `role_arn` chains of
//! one or two hops, `credential_process`, web identity, an `aws login`
//! session (`login_session`, its token cached, valid or never cached), an
//! SSO session (`sso_session`, its token cached, at a loopback stand-in of
//! the SSO portal), a region only or nothing, and a region in the
//! environment, the profile, both or nowhere).
//! Each case is resolved by boto3 (one Python process for all cases,
//! `tests/differential/boto3_resolve.py`) and by bsm, against one moto; the
//! principal ARN and the region must agree, or both fail. Then bsm's
//! `aws_cli_env()`, applied over the case's environment, is handed to boto3
//! (a second Python process): the child must be the manager's principal.
//!
//! `BSM_DIFF_CASES` (default 200) and `BSM_DIFF_SEED` (default fixed) run
//! more or other cases; `BSM_DIFF_CASE=N` replays case N alone.
//!
//! Where bsm differs from botocore on purpose, the case is allowed by its
//! class, a row of the rules table in `bsm::credentials`:
//! - `AWS_REGION`: bsm (like every AWS SDK but botocore) reads it; botocore
//!   reads only `AWS_DEFAULT_REGION`.
//!
//! One test, holding the turn of the binary that changes the environment
//! (`crate::exclusive`): bsm's side sets the process
//! environment for each case.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use bsm::SessionManager;
use bsm_tests::sources::{FakeServer, User, iam_user, in_an_hour, process_script, rfc3339};
use bsm_tests::{moto, temp_dir, venv_bin};

const DEFAULT_SEED: u64 = 0x00b5_3d1f;
const POOL: [&str; 4] = ["default", "alpha", "beta", "gamma"];
const REGIONS: [&str; 3] = ["eu-west-1", "ap-south-1", "us-west-2"];

/// One generated configuration.
#[derive(Debug, Clone)]
struct Case {
    id: usize,
    /// The whole `AWS_*` environment of the case.
    env: BTreeMap<String, String>,
    /// The profile given to the constructor, if any.
    profile: Option<String>,
    /// One line per choice, for the table of disagreements.
    about: Vec<String>,
}

/// What one tool made of a case.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Outcome {
    Resolved { arn: String, region: Option<String> },
    Failed(String),
}

struct Generator {
    rng: fastrand::Rng,
    users: Vec<User>,
    root: PathBuf,
    /// Where botocore and aws-config look for SSO tokens (`~/.aws/sso/cache`).
    sso_cache: PathBuf,
    /// The SSO portal stand-in: the bearer token `diff-sso-<i>` gets user
    /// `i`'s keys.
    portal: String,
}

impl Generator {
    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.rng.usize(..items.len())]
    }

    fn chance(&mut self, percent: u8) -> bool {
        self.rng.u8(..100) < percent
    }

    fn user(&mut self) -> User {
        let i = self.user_index();
        self.users[i].clone()
    }

    fn user_index(&mut self) -> usize {
        self.rng.usize(..self.users.len())
    }

    fn case(&mut self, id: usize) -> Case {
        let dir = self.root.join(format!("case-{id}"));
        std::fs::create_dir_all(&dir).unwrap();
        let mut files = Files::default();
        let mut about: Vec<String> = POOL
            .iter()
            .map(|name| self.profile(name, id, &dir, &mut files))
            .collect();
        std::fs::write(dir.join("config"), &files.config).unwrap();
        std::fs::write(dir.join("credentials"), &files.credentials).unwrap();
        let env = self.environment(&dir, &mut about);
        let profile = self.chance(50).then(|| (*self.pick(&POOL)).to_owned());
        about.push(format!(
            "profile given: {}",
            profile.as_deref().unwrap_or("none")
        ));
        Case {
            id,
            env,
            profile,
            about,
        }
    }

    fn keys(&mut self, section: &str) -> String {
        let u = self.user();
        format!(
            "[{section}]\naws_access_key_id = {}\naws_secret_access_key = {}\n",
            u.key_id, u.secret
        )
    }

    /// Writes one profile of the pool (or leaves it out); returns what it is.
    fn profile(&mut self, name: &str, id: usize, dir: &Path, files: &mut Files) -> String {
        let section = if name == "default" {
            "default".to_owned()
        } else {
            format!("profile {name}")
        };
        let region = self.chance(50).then(|| (*self.pick(&REGIONS)).to_owned());
        let region_line = region
            .as_ref()
            .map(|r| format!("region = {r}\n"))
            .unwrap_or_default();
        let session = format!("diff-{id}-{name}");
        let role = |hop: &str| format!("arn:aws:iam::123456789012:role/diff-{hop}");
        let (config, credentials) = (&mut files.config, &mut files.credentials);
        let what = match self.rng.u8(..11) {
            0 => return format!("{name}: absent"),
            1 => {
                credentials.push_str(&self.keys(name));
                let _ = write!(config, "[{section}]\n{region_line}");
                "static keys (credentials file)"
            }
            2 => {
                let keys = self.keys(&section);
                let _ = write!(config, "{keys}{region_line}");
                "static keys (config file)"
            }
            kind @ (3 | 4) => {
                let src = format!("src-{name}");
                credentials.push_str(&self.keys(&src));
                let source = if kind == 4 {
                    let mid = format!("mid-{name}");
                    let _ = write!(
                        config,
                        "[profile {mid}]\nrole_arn = {}\nsource_profile = {src}\nrole_session_name = {session}-mid\n",
                        role("mid")
                    );
                    mid
                } else {
                    src
                };
                let _ = write!(
                    config,
                    "[{section}]\n{region_line}role_arn = {}\nsource_profile = {source}\nrole_session_name = {session}\n",
                    role(name)
                );
                if kind == 4 {
                    "role_arn, two hops"
                } else {
                    "role_arn, one hop"
                }
            }
            5 => {
                let u = self.user();
                let (script, _) = process_script(dir, &u, None);
                let _ = write!(
                    config,
                    "[{section}]\n{region_line}credential_process = {}\n",
                    script.display()
                );
                "credential_process"
            }
            6 => {
                let token = dir.join(format!("token-{name}"));
                std::fs::write(&token, "header.payload.signature").unwrap();
                let _ = write!(
                    config,
                    "[{section}]\n{region_line}role_arn = {}\nweb_identity_token_file = {}\nrole_session_name = {session}\n",
                    role(name),
                    token.display()
                );
                "web identity"
            }
            7 => {
                let _ = write!(config, "[{section}]\n{region_line}");
                "no credentials"
            }
            8 => self.login_profile(&section, &region_line, &session, dir, config),
            9 => self.sso_profile(&section, &region_line, &session, config),
            _ => {
                // Keys in both files: botocore takes the credentials file's.
                credentials.push_str(&self.keys(name));
                let keys = self.keys(&section);
                let _ = write!(config, "{keys}{region_line}");
                "static keys in both files"
            }
        };
        format!(
            "{name}: {what}, region {}",
            region.as_deref().unwrap_or("none")
        )
    }

    /// An `aws login` profile; its token cached (valid for an hour) in most
    /// cases, never in the rest.
    fn login_profile(
        &mut self,
        section: &str,
        region_line: &str,
        session: &str,
        dir: &Path,
        config: &mut String,
    ) -> &'static str {
        let arn = format!("arn:aws:iam::123456789012:user/{session}");
        let _ = write!(config, "[{section}]\n{region_line}login_session = {arn}\n");
        if !self.chance(80) {
            return "login_session, no token cached";
        }
        let u = self.user();
        let _ = bsm_tests::sign_in::write_token(
            &dir.join("login-cache"),
            &arn,
            &u,
            "123456789012",
            in_an_hour(),
            "diff-refresh-token",
        );
        "login_session, token cached"
    }

    /// An SSO profile of its own `sso-session`, its token cached for one
    /// of the users at the portal stand-in.
    fn sso_profile(
        &mut self,
        section: &str,
        region_line: &str,
        session: &str,
        config: &mut String,
    ) -> &'static str {
        let i = self.user_index();
        let start_url = "https://diff.awsapps.com/start";
        let _ = write!(
            config,
            "[{section}]\n{region_line}sso_session = {session}\nsso_account_id = 123456789012\n\
             sso_role_name = Diff\n[sso-session {session}]\nsso_start_url = {start_url}\n\
             sso_region = us-east-1\n"
        );
        std::fs::create_dir_all(&self.sso_cache).unwrap();
        std::fs::write(
            self.sso_cache
                .join(format!("{}.json", bsm_tests::sha1_hex(session))),
            serde_json::json!({
                "startUrl": start_url,
                "region": "us-east-1",
                "accessToken": format!("diff-sso-{i}"),
                "expiresAt": rfc3339(in_an_hour()),
            })
            .to_string(),
        )
        .unwrap();
        "sso_session, token cached"
    }

    /// The case's environment: the emulator, its files, keys, profile and
    /// region variables at random.
    fn environment(&mut self, dir: &Path, about: &mut Vec<String>) -> BTreeMap<String, String> {
        let mut env = BTreeMap::new();
        env.insert("AWS_ENDPOINT_URL".into(), moto().endpoint());
        env.insert(
            "AWS_CONFIG_FILE".into(),
            dir.join("config").display().to_string(),
        );
        env.insert(
            "AWS_SHARED_CREDENTIALS_FILE".into(),
            dir.join("credentials").display().to_string(),
        );
        env.insert("AWS_EC2_METADATA_DISABLED".into(), "true".into());
        env.insert(
            "AWS_LOGIN_CACHE_DIRECTORY".into(),
            dir.join("login-cache").display().to_string(),
        );
        env.insert("AWS_ENDPOINT_URL_SSO".into(), self.portal.clone());
        let keys = self.rng.u8(..10);
        if keys >= 5 {
            let u = self.user();
            env.insert("AWS_ACCESS_KEY_ID".into(), u.key_id);
            env.insert("AWS_SECRET_ACCESS_KEY".into(), u.secret);
        }
        if keys >= 8 {
            env.insert("AWS_SESSION_TOKEN".into(), "diff-session-token".into());
        }
        about.push(
            ["env keys: none", "env keys: pair", "env keys: pair + token"]
                [usize::from(keys >= 5) + usize::from(keys >= 8)]
            .into(),
        );
        for (var, percent) in [("AWS_PROFILE", 40), ("AWS_DEFAULT_PROFILE", 20)] {
            if self.chance(percent) {
                let p = *self.pick(&POOL);
                env.insert(var.into(), p.into());
                about.push(format!("{var}={p}"));
            }
        }
        let regions: Vec<(&str, &str)> = match self.rng.u8(..20) {
            0..=7 => vec![],
            8..=15 => vec![("AWS_DEFAULT_REGION", *self.pick(&REGIONS))],
            16..=17 => vec![("AWS_REGION", *self.pick(&REGIONS))],
            _ => vec![
                ("AWS_REGION", "ca-central-1"),
                ("AWS_DEFAULT_REGION", "sa-east-1"),
            ],
        };
        for (var, region) in regions {
            env.insert(var.into(), region.into());
            about.push(format!("{var}={region}"));
        }
        env
    }
}

/// The SSO portal's `GetRoleCredentials` for every user: bearer token
/// `diff-sso-<i>` gets `users[i]`'s keys for an hour.
fn sso_portal(users: &[User]) -> FakeServer {
    let users = users.to_vec();
    let millis = in_an_hour()
        .duration_since(std::time::SystemTime::UNIX_EPOCH)
        .unwrap()
        .as_millis();
    FakeServer::start(move |hit| {
        let user = hit
            .header("x-amz-sso_bearer_token")
            .and_then(|t| t.strip_prefix("diff-sso-"))
            .and_then(|i| i.parse::<usize>().ok())
            .and_then(|i| users.get(i));
        match user {
            Some(u) if hit.path.starts_with("/federation/credentials") => (
                200,
                vec![("content-type", "application/json".into())],
                serde_json::json!({
                    "roleCredentials": {
                        "accessKeyId": u.key_id,
                        "secretAccessKey": u.secret,
                        "sessionToken": "diff-sso-session-token",
                        "expiration": millis,
                    }
                })
                .to_string(),
            ),
            _ => (401, vec![], String::new()),
        }
    })
}

/// The text of a case's two profile files.
#[derive(Default)]
struct Files {
    config: String,
    credentials: String,
}

/// Sets this process's `AWS_*` environment to exactly `env`.
fn set_env(env: &BTreeMap<String, String>) {
    // SAFETY: the caller holds the binary's turn (`crate::exclusive`), so no
    // other test runs; the emulator's and the runtime's other threads do not
    // read the environment.
    unsafe {
        for name in bsm_tests::aws_env::aws_var_names() {
            std::env::remove_var(name);
        }
        for (k, v) in env {
            std::env::set_var(k, v);
        }
    }
}

/// boto3's outcome for each case, from one Python process.
fn boto3(
    cases: &[(usize, BTreeMap<String, String>, Option<String>)],
    dir: &Path,
    tag: &str,
) -> Vec<Outcome> {
    let input = dir.join(format!("{tag}-cases.json"));
    let output = dir.join(format!("{tag}-results.json"));
    let json: Vec<_> = cases
        .iter()
        .map(|(id, env, profile)| serde_json::json!({"id": id, "env": env, "profile": profile}))
        .collect();
    std::fs::write(&input, serde_json::to_string(&json).unwrap()).unwrap();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("differential/boto3_resolve.py");
    let status = std::process::Command::new(venv_bin("python"))
        .arg(script)
        .arg(&input)
        .arg(&output)
        .status()
        .expect("the test virtualenv's python runs");
    assert!(status.success(), "boto3_resolve.py failed");
    let results: Vec<serde_json::Value> =
        serde_json::from_str(&std::fs::read_to_string(&output).unwrap()).unwrap();
    results
        .into_iter()
        .map(|r| match r["error"].as_str() {
            Some(e) => Outcome::Failed(e.to_owned()),
            None => Outcome::Resolved {
                arn: r["arn"].as_str().unwrap().to_owned(),
                region: r["region"].as_str().map(str::to_owned),
            },
        })
        .collect()
}

/// How many cases bsm resolved through an `aws login` session and an SSO
/// session.
static SIGNED_IN: [std::sync::atomic::AtomicUsize; 2] = [
    std::sync::atomic::AtomicUsize::new(0),
    std::sync::atomic::AtomicUsize::new(0),
];

/// bsm's outcome for a case, and the environment its `aws_cli_env()` hands
/// to a child (the case's, changed as the handoff says).
async fn bsm(case: &Case) -> (Outcome, Option<BTreeMap<String, String>>) {
    set_env(&case.env);
    let built = match &case.profile {
        Some(p) => SessionManager::builder().profile_name(p).build().await,
        None => SessionManager::from_env().await,
    };
    let manager = match built {
        Ok(m) => m,
        Err(e) => return (Outcome::Failed(bsm_tests::error_chain(&e)), None),
    };
    let arn = match manager.principal_arn().await {
        Ok(a) => a,
        Err(e) => return (Outcome::Failed(bsm_tests::error_chain(&e)), None),
    };
    // Which of the sign-in sources answered, told by the session token
    // each hands out.
    if let Ok(creds) = manager.credentials().await {
        match creds.session_token() {
            Some("login-session-token") => {
                SIGNED_IN[0].fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            }
            Some("diff-sso-session-token") => {
                SIGNED_IN[1].fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            }
            _ => {}
        }
    }
    let mut child = case.env.clone();
    match manager.aws_cli_env().await {
        Ok(handoff) => {
            for (k, v) in handoff.vars() {
                match v {
                    Some(v) => child.insert(k.to_owned(), v.to_owned()),
                    None => child.remove(k),
                };
            }
        }
        Err(e) => return (Outcome::Failed(format!("aws_cli_env: {e}")), None),
    }
    let region = manager.aws_region().map(str::to_owned);
    (Outcome::Resolved { arn, region }, Some(child))
}

/// The class of a deliberate difference this disagreement falls in, if any.
fn allowed(case: &Case, boto: &Outcome, ours: &Outcome) -> Option<&'static str> {
    match (boto, ours) {
        (Outcome::Resolved { arn: a, region: ra }, Outcome::Resolved { arn: b, region: rb })
            if a == b
                && ra != rb
                && case.env.contains_key("AWS_REGION")
                && rb.as_deref() == case.env.get("AWS_REGION").map(String::as_str) =>
        {
            Some("AWS_REGION")
        }
        _ => None,
    }
}

#[test]
fn bsm_resolves_like_botocore() {
    let _turn = crate::exclusive();
    let n: usize = std::env::var("BSM_DIFF_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(200);
    let seed: u64 = std::env::var("BSM_DIFF_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(DEFAULT_SEED);
    let only: Option<usize> = std::env::var("BSM_DIFF_CASE")
        .ok()
        .and_then(|v| v.parse().ok());
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    set_env(&BTreeMap::new());
    let users = rt.block_on(async {
        let mut users = Vec::new();
        for _ in 0..8 {
            users.push(iam_user("diff").await);
        }
        users
    });
    let root = temp_dir("bsm-differential");
    let portal = sso_portal(&users);
    let home = std::env::var_os("HOME").expect("the runner gives every binary a home");
    let mut generator = Generator {
        rng: fastrand::Rng::with_seed(seed),
        users,
        root: root.clone(),
        sso_cache: PathBuf::from(home).join(".aws/sso/cache"),
        portal: portal.endpoint(),
    };
    // Every case is generated (so case N is the same whatever runs), then
    // only the one asked for is kept.
    let cases: Vec<Case> = (0..n.max(only.map_or(0, |k| k + 1)))
        .map(|id| generator.case(id))
        .filter(|c| only.is_none_or(|k| c.id == k))
        .collect();

    let boto_input: Vec<_> = cases
        .iter()
        .map(|c| (c.id, c.env.clone(), c.profile.clone()))
        .collect();
    let boto_outcomes = boto3(&boto_input, &root, "resolve");
    let ours: Vec<_> = cases.iter().map(|c| rt.block_on(bsm(c))).collect();
    set_env(&BTreeMap::new());

    let handoff_input: Vec<_> = cases
        .iter()
        .zip(&ours)
        .filter_map(|(c, (_, child))| child.clone().map(|env| (c.id, env, None)))
        .collect();
    let handoff_outcomes = boto3(&handoff_input, &root, "handoff");

    let (table, unexplained, summary) = compare(
        &cases,
        &boto_outcomes,
        &ours,
        &handoff_input,
        &handoff_outcomes,
    );
    let [login, sso] = SIGNED_IN
        .each_ref()
        .map(|n| n.load(std::sync::atomic::Ordering::Relaxed));
    println!(
        "{} cases (seed {seed:#x}), {} handoffs: {summary}; resolved through aws login {login}, \
         SSO {sso} (the portal asked {} times by both tools)",
        cases.len(),
        handoff_input.len(),
        portal.hits().len()
    );
    let _ = std::fs::remove_dir_all(&root);
    assert!(
        unexplained == 0,
        "{unexplained} unexplained disagreements:\n{table}"
    );
    if only.is_none() && n >= 100 {
        assert!(
            login > 0 && sso > 0,
            "the generator reached both sign-in sources"
        );
    }
}

type Handoff = (usize, BTreeMap<String, String>, Option<String>);

/// The table of disagreements, how many no class explains, and a summary.
fn compare(
    cases: &[Case],
    boto_outcomes: &[Outcome],
    ours: &[(Outcome, Option<BTreeMap<String, String>>)],
    handoff_input: &[Handoff],
    handoff_outcomes: &[Outcome],
) -> (String, usize, String) {
    let mut table = String::new();
    let mut unexplained = 0;
    let mut by_class: BTreeMap<&str, usize> = BTreeMap::new();
    let (mut resolved, mut failed) = (0, 0);
    for (case, (boto, (ours, _))) in cases.iter().zip(boto_outcomes.iter().zip(ours)) {
        let agree = match (boto, ours) {
            (Outcome::Failed(_), Outcome::Failed(_)) => {
                failed += 1;
                true
            }
            (a, b) if a == b => {
                resolved += 1;
                true
            }
            _ => false,
        };
        if agree {
            continue;
        }
        let class = allowed(case, boto, ours);
        *by_class.entry(class.unwrap_or("UNEXPLAINED")).or_default() += 1;
        if class.is_none() {
            unexplained += 1;
            let _ = writeln!(
                table,
                "case {}: {}\n  botocore: {boto:?}\n  bsm:      {ours:?}",
                case.id,
                case.about.join("; ")
            );
        }
    }
    for ((id, _, _), child) in handoff_input.iter().zip(handoff_outcomes) {
        let Some(Outcome::Resolved { arn: want, .. }) = ours
            .get(cases.iter().position(|c| c.id == *id).unwrap())
            .map(|o| &o.0)
        else {
            continue;
        };
        let got = match child {
            Outcome::Resolved { arn, .. } => arn.as_str(),
            Outcome::Failed(e) => e.as_str(),
        };
        if got != want {
            unexplained += 1;
            *by_class.entry("HANDOFF").or_default() += 1;
            let case = cases.iter().find(|c| c.id == *id).unwrap();
            let _ = writeln!(
                table,
                "case {id} (handoff): {}\n  manager: {want}\n  child:   {got}",
                case.about.join("; ")
            );
        }
    }
    let summary = format!(
        "{resolved} resolved alike, {failed} failed in both; differences by class: {by_class:?}"
    );
    (table, unexplained, summary)
}
