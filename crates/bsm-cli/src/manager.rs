//! The manager a command runs with: the source (the default chain, or
//! `--profile`, `--region`, `--endpoint-url`), then the role of
//! `--role-arn`: assumed once through the session cache, or refreshing for
//! `exec --server`; with `--mfa-session`, from an MFA session the aws-vault
//! way.
//!
//! The session cache's key is made from what the command was given and
//! what the shared files say, without resolving anything: so a cache hit
//! builds no manager, no HTTP client and no TLS roots, and runs no
//! `credential_process` of the source ([`cached_role`]).

use std::time::Duration;

use bsm::SessionManager;
use bsm::aws_credential_types::Credentials;

use crate::cache::Cache;
use crate::{Failure, Global, prompt};

/// How the role of `--role-arn` is held.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Assumed once (through the session cache unless `--no-cache`).
    Once,
    /// Refreshed ahead of its end, for as long as bsm runs (`exec --server`).
    Refreshing,
    /// Assumed once, for credentials handed to another process (`exec`,
    /// `export`, a snapshot): stored keys (`--keys`) are handed out as a
    /// session of theirs (`GetSessionToken`, through the session cache),
    /// never themselves, unless `--no-session`.
    HandedOut,
}

/// The manager for `g`: the source, and the role if one is asked for.
pub async fn build(g: &Global, role: Role) -> Result<SessionManager, Failure> {
    let cache = open_cache(g);
    let Some(role_arn) = &g.role_arn else {
        if role == Role::HandedOut && keys_session_wanted(g) {
            return keys_session(g, cache.as_ref()).await;
        }
        return source(g).await;
    };
    if role == Role::Refreshing {
        return refreshing(g, role_arn, cache.as_ref()).await;
    }
    let key = match &cache {
        Some(_) => Some(Cache::key(&key_parts(g, "role").await)),
        None => None,
    };
    if let (Some(cache), Some(key)) = (&cache, &key)
        && let Some(creds) = cache.get(key, window(g))
    {
        return from_cached(g, creds).await;
    }
    let source = source_or_mfa_session(g, cache.as_ref()).await?;
    let mut assume = params(&source, g, role_arn);
    if let (Some(serial), false) = (&g.mfa_serial, g.mfa_session) {
        assume = assume.mfa(serial, code(g, serial)?);
    }
    let role = assume.send().await?;
    if let (Some(cache), Some(key)) = (&cache, &key)
        && let Err(e) = cache.put(key, &role.credentials().await?)
    {
        tracing::warn!("{e}");
    }
    Ok(role)
}

/// The cached credentials this command hands out, when the session cache
/// holds a session of its role (or of its stored keys) that does not end
/// within the refresh window: read from the shared files' settings and the
/// cache file only, with no manager built (what `export --format process`
/// needs on every AWS CLI command).
pub async fn cached_handout(g: &Global) -> Option<Credentials> {
    let kind = if g.role_arn.is_some() {
        "role"
    } else if keys_session_wanted(g) {
        "keys-session"
    } else {
        return None;
    };
    let cache = open_cache(g)?;
    let key = Cache::key(&key_parts(g, kind).await);
    cache.get(&key, window(g))
}

/// Whether stored keys are handed out as a session of theirs: `--keys`
/// without a role, an MFA session or `--no-session`.
fn keys_session_wanted(g: &Global) -> bool {
    g.keys.is_some() && g.role_arn.is_none() && !g.mfa_session && !g.no_session
}

/// A session of the stored keys (`GetSessionToken`), from the cache when it
/// holds one: what `exec` and `export` hand out instead of the keys.
async fn keys_session(g: &Global, cache: Option<&Cache>) -> Result<SessionManager, Failure> {
    let key = Cache::key(&key_parts(g, "keys-session").await);
    if let Some(creds) = cache.and_then(|c| c.get(&key, window(g))) {
        return from_cached(g, creds).await;
    }
    let session = source(g)
        .await?
        .session_token(Duration::from_secs(g.session_duration))
        .await?;
    if let Some(cache) = cache
        && let Err(e) = cache.put(&key, &session.credentials().await?)
    {
        tracing::warn!("{e}");
    }
    Ok(session)
}

fn open_cache(g: &Global) -> Option<Cache> {
    if g.no_cache {
        None
    } else {
        Cache::default_dir().and_then(Cache::open)
    }
}

async fn source(g: &Global) -> Result<SessionManager, Failure> {
    if let Some(name) = &g.keys {
        return with_keys(g, &crate::keys::stored(g, name)?).await;
    }
    Ok(settings(g)(SessionManager::builder()).build().await?)
}

/// The source, or with `--mfa-session` an MFA session of it (from the
/// cache when it holds one).
async fn source_or_mfa_session(
    g: &Global,
    cache: Option<&Cache>,
) -> Result<SessionManager, Failure> {
    if !g.mfa_session {
        return source(g).await;
    }
    let serial = g
        .mfa_serial
        .as_deref()
        .ok_or("--mfa-session needs --mfa-serial")?;
    let key = Cache::key(&key_parts(g, "mfa-session").await);
    if let Some(creds) = cache.and_then(|c| c.get(&key, window(g))) {
        return from_cached(g, creds).await;
    }
    let code = code(g, serial)?;
    let session = source(g)
        .await?
        .mfa_session(serial, &code, Duration::from_secs(g.mfa_session_duration))
        .await?;
    if let Some(cache) = cache
        && let Err(e) = cache.put(&key, &session.credentials().await?)
    {
        tracing::warn!("{e}");
    }
    Ok(session)
}

/// `exec --server`'s role: refreshed ahead of its end. Its first
/// `AssumeRole`, and the MFA prompt if there is one, happen here, before
/// the command takes the terminal; later refreshes ask the terminal for a
/// code only while bsm has it (with `--mfa-session` they need none until
/// the MFA session ends).
async fn refreshing(
    g: &Global,
    role_arn: &str,
    cache: Option<&Cache>,
) -> Result<SessionManager, Failure> {
    let source = source_or_mfa_session(g, cache).await?;
    let mut assume = params(&source, g, role_arn);
    if let (Some(serial), false) = (&g.mfa_serial, g.mfa_session) {
        // The first code is the one given, or asked now; later ones are
        // asked on the terminal.
        let first = std::sync::Mutex::new(Some(code(g, serial)?));
        let prompt_for = serial.clone();
        assume = assume.mfa_token_provider(serial, move || {
            let given = first
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .take();
            match given {
                Some(code) => Ok(code),
                None => prompt::mfa_code(&prompt_for).map_err(|e| e.to_string().into()),
            }
        });
    }
    let role = assume.auto_refresh(true).send().await?;
    role.credentials().await?;
    Ok(role)
}

/// The MFA code: `--mfa-code` (or `BSM_MFA_CODE`), a line of standard
/// input for `--mfa-code -`, else asked on the terminal.
fn code(g: &Global, serial: &str) -> Result<String, Failure> {
    match g.mfa_code.as_deref() {
        Some("-") => {
            let mut line = String::new();
            std::io::stdin().read_line(&mut line)?;
            Ok(line.trim().to_owned())
        }
        Some(c) => Ok(c.to_owned()),
        None => prompt::mfa_code(serial),
    }
}

fn params(source: &SessionManager, g: &Global, role_arn: &str) -> bsm::AssumeRoleBuilder {
    let mut assume = source.assume_role(role_arn);
    if let Some(d) = g.duration {
        assume = assume.duration(Duration::from_secs(d));
    }
    if let Some(id) = &g.external_id {
        assume = assume.external_id(id);
    }
    if let Some(name) = &g.session_name {
        assume = assume.role_session_name(name);
    }
    assume
}

fn window(g: &Global) -> Duration {
    Duration::from_secs(g.refresh_window)
}

/// The settings of the shared files that choose the source's credentials
/// and the endpoint STS is asked at, read without resolving anything. No
/// secret among them.
const SOURCE_SETTINGS: &[&str] = &[
    "aws_access_key_id",
    "role_arn",
    "source_profile",
    "credential_source",
    "credential_process",
    "web_identity_token_file",
    "sso_session",
    "sso_start_url",
    "sso_account_id",
    "sso_role_name",
    "login_session",
    "endpoint_url",
    "ignore_configured_endpoint_urls",
    "services",
    "sts_regional_endpoints",
];

/// What the cached answer depends on, read without resolving anything: the
/// source (the profile named, or the default chain's first choices: keys in
/// the environment, the profile's credential settings), every parameter,
/// and every input to the endpoint STS is asked at (`--endpoint-url`,
/// `AWS_ENDPOINT_URL`, `AWS_ENDPOINT_URL_STS`, the profile's
/// `endpoint_url` and `services`). Hashed by [`Cache::key`].
async fn key_parts(g: &Global, kind: &'static str) -> Vec<(&'static str, String)> {
    let opt = |v: &Option<String>| v.clone().unwrap_or_default();
    let env = |name: &str| std::env::var(name).unwrap_or_default();
    let profile = selected_profile(g);
    // Stored keys are the source under `--keys`: their id (never the
    // secret) is the key, so a rotated key starts new sessions.
    let stored = g.keys.as_ref().map(|name| {
        match crate::keys::stored(g, name) {
            Ok(keys) => format!("{name}:{}", keys.access_key_id()),
            // Never a hit, and nothing cached under it is found again: the
            // build that follows reports the error (or, should the store
            // answer then, its session is not served to a later run).
            Err(_) => format!(
                "{name}: unreadable at {:?} in {}",
                std::time::SystemTime::now(),
                std::process::id()
            ),
        }
    });
    let mut parts = vec![
        ("kind", kind.to_owned()),
        ("source-profile", opt(&profile)),
        ("source-profile-given", g.profile.is_some().to_string()),
        // The default chain reads keys in the environment first; a named
        // profile does not read them.
        (
            "source-env-key",
            if g.profile.is_some() || g.keys.is_some() {
                String::new()
            } else {
                env("AWS_ACCESS_KEY_ID")
            },
        ),
        ("source-keys", stored.unwrap_or_default()),
        ("mfa-serial", opt(&g.mfa_serial)),
        ("endpoint-url", opt(&g.endpoint_url)),
        ("env-endpoint-url", env("AWS_ENDPOINT_URL")),
        ("env-endpoint-url-sts", env("AWS_ENDPOINT_URL_STS")),
        (
            "env-ignore-endpoints",
            env("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS"),
        ),
    ];
    parts.extend(profile_settings(profile.as_deref()).await);
    if kind == "mfa-session" {
        // One MFA session serves every role assumed from it.
        parts.push(("duration", g.mfa_session_duration.to_string()));
        return parts;
    }
    if kind == "keys-session" {
        parts.push(("duration", g.session_duration.to_string()));
        return parts;
    }
    parts.extend([
        ("role-arn", opt(&g.role_arn)),
        ("session-name", opt(&g.session_name)),
        (
            "duration",
            g.duration.map(|d| d.to_string()).unwrap_or_default(),
        ),
        ("external-id", opt(&g.external_id)),
        ("mfa-session", g.mfa_session.to_string()),
    ]);
    parts
}

/// The profile the command's credentials come from: `--profile`, else
/// `AWS_DEFAULT_PROFILE`, else `AWS_PROFILE`; `None` for the default.
pub fn selected_profile(g: &Global) -> Option<String> {
    g.profile.clone().or_else(|| {
        ["AWS_DEFAULT_PROFILE", "AWS_PROFILE"]
            .iter()
            .find_map(|v| std::env::var(v).ok().filter(|p| !p.is_empty()))
    })
}

/// [`SOURCE_SETTINGS`] of `profile` (or `default`), and of the `services`
/// section it names, as the shared files hold them now.
async fn profile_settings(profile: Option<&str>) -> Vec<(&'static str, String)> {
    use bsm::aws_types::os_shim_internal::{Env, Fs};
    let files = bsm::aws_runtime::env_config::file::EnvConfigFiles::default();
    let set = bsm::aws_config::profile::parser::load(
        &Fs::real(),
        &Env::real(),
        &files,
        profile.map(|p| p.to_owned().into()),
    )
    .await;
    let set = match set {
        Ok(set) => set,
        // The build that follows a miss reports it.
        Err(e) => return vec![("profile-files", format!("unreadable: {e}"))],
    };
    let Some(selected) = set.get_profile(profile.unwrap_or(set.selected_profile())) else {
        return vec![("profile-files", "no such profile".to_owned())];
    };
    let mut parts: Vec<(&'static str, String)> = SOURCE_SETTINGS
        .iter()
        .map(|k| (*k, selected.get(k).unwrap_or_default().to_owned()))
        .collect();
    if let Some(services) = selected.get("services") {
        let key = bsm::aws_runtime::env_config::property::PropertiesKey::builder()
            .section_key("services")
            .section_name(services)
            .property_name("sts")
            .sub_property_name("endpoint_url")
            .build();
        let sts = key
            .ok()
            .and_then(|k| set.other_sections().get(&k).cloned())
            .unwrap_or_default();
        parts.push(("services-sts", sts));
    }
    parts
}

/// The command's settings for a manager's builder: `--profile` (read for
/// the region and endpoint, and for credentials only when the builder has
/// none), `--region`, `--endpoint-url`. Owned, for the rotation's managers.
pub fn settings(
    g: &Global,
) -> impl Fn(bsm::SessionManagerBuilder) -> bsm::SessionManagerBuilder + Send + Sync + 'static {
    let (profile, region, endpoint) = (g.profile.clone(), g.region.clone(), g.endpoint_url.clone());
    move |mut builder| {
        if let Some(p) = &profile {
            builder = builder.profile_name(p);
        }
        if let Some(r) = &region {
            builder = builder.region(r);
        }
        if let Some(u) = &endpoint {
            builder = builder.endpoint_url(u);
        }
        builder
    }
}

/// A manager on stored keys (`--keys`), with the region and endpoint the
/// command's settings give.
pub async fn with_keys(
    g: &Global,
    keys: &bsm::keychain::StoredKeys,
) -> Result<SessionManager, Failure> {
    from_cached(g, keys.credentials()).await
}

/// A manager on cached credentials, with the region and endpoint the
/// command's settings give (its profile is read for them, not for
/// credentials).
async fn from_cached(g: &Global, creds: Credentials) -> Result<SessionManager, Failure> {
    Ok(
        settings(g)(SessionManager::builder().credentials_provider(creds))
            .build()
            .await?,
    )
}
