//! The manager a command runs with: the source (the default chain, or
//! `--profile`, `--region`, `--endpoint-url`), then the role of
//! `--role-arn`: assumed once through the session cache, or refreshing for
//! `exec --server`; with `--mfa-session`, from an MFA session the aws-vault
//! way.

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
}

/// The manager for `g`: the source, and the role if one is asked for.
pub async fn build(g: &Global, role: Role) -> Result<SessionManager, Failure> {
    let source = source(g).await?;
    let Some(role_arn) = &g.role_arn else {
        return Ok(source);
    };
    if role == Role::Refreshing {
        let mut assume = params(&source, g, role_arn);
        if let Some(serial) = &g.mfa_serial {
            // A refresh needs a fresh code: asked on the terminal each time.
            let prompt_for = serial.clone();
            assume = assume.mfa_token_provider(serial, move || {
                prompt::mfa_code(&prompt_for).map_err(|e| e.to_string().into())
            });
        }
        return Ok(assume.auto_refresh(true).send().await?);
    }
    let cache = if g.no_cache {
        None
    } else {
        Cache::default_dir().and_then(Cache::open)
    };
    let source = if g.mfa_session {
        mfa_session(g, &source, cache.as_ref()).await?
    } else {
        source
    };
    let key = match &cache {
        Some(_) => Some(Cache::key(&key_parts(g, &source, "role").await?)),
        None => None,
    };
    if let (Some(cache), Some(key)) = (&cache, &key)
        && let Some(creds) = cache.get(key, window(g))
    {
        return from_cached(&source, creds).await;
    }
    let mut assume = params(&source, g, role_arn);
    if let (Some(serial), false) = (&g.mfa_serial, g.mfa_session) {
        let code = match &g.mfa_code {
            Some(c) => c.clone(),
            None => prompt::mfa_code(serial)?,
        };
        assume = assume.mfa(serial, code);
    }
    let role = assume.send().await?;
    if let (Some(cache), Some(key)) = (&cache, &key)
        && let Err(e) = cache.put(key, &role.credentials().await?)
    {
        tracing::warn!("{e}");
    }
    Ok(role)
}

async fn source(g: &Global) -> Result<SessionManager, Failure> {
    let mut builder = SessionManager::builder();
    if let Some(p) = &g.profile {
        builder = builder.profile_name(p);
    }
    if let Some(r) = &g.region {
        builder = builder.region(r);
    }
    if let Some(u) = &g.endpoint_url {
        builder = builder.endpoint_url(u);
    }
    Ok(builder.build().await?)
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

/// What the cached answer depends on: the source (profile and access key
/// id), every parameter, the endpoint. Hashed by [`Cache::key`].
async fn key_parts(
    g: &Global,
    source: &SessionManager,
    kind: &'static str,
) -> Result<Vec<(&'static str, String)>, Failure> {
    let source_key = source.credentials().await?.access_key_id().to_owned();
    let opt = |v: &Option<String>| v.clone().unwrap_or_default();
    if kind == "mfa-session" {
        // One MFA session serves every role assumed from it.
        return Ok(vec![
            ("kind", kind.to_owned()),
            ("source-profile", opt(&g.profile)),
            ("source-key", source_key),
            ("mfa-serial", opt(&g.mfa_serial)),
            ("duration", g.mfa_session_duration.to_string()),
            ("endpoint-url", opt(&g.endpoint_url)),
        ]);
    }
    Ok(vec![
        ("kind", kind.to_owned()),
        ("source-profile", opt(&g.profile)),
        ("source-key", source_key),
        ("role-arn", opt(&g.role_arn)),
        ("session-name", opt(&g.session_name)),
        (
            "duration",
            g.duration.map(|d| d.to_string()).unwrap_or_default(),
        ),
        ("external-id", opt(&g.external_id)),
        ("mfa-serial", opt(&g.mfa_serial)),
        ("mfa-session", g.mfa_session.to_string()),
        ("endpoint-url", opt(&g.endpoint_url)),
    ])
}

/// A manager on cached credentials, with the source's region and endpoint.
async fn from_cached(
    source: &SessionManager,
    creds: Credentials,
) -> Result<SessionManager, Failure> {
    let mut builder = SessionManager::builder().credentials_provider(creds);
    if let Some(r) = source.aws_region() {
        builder = builder.region(r);
    }
    if let Some(u) = source.endpoint_url() {
        builder = builder.endpoint_url(u);
    }
    Ok(builder.build().await?)
}

/// The aws-vault way: one `GetSessionToken` with the MFA code, kept in the
/// cache up to its end; roles are then assumed from it without a code.
async fn mfa_session(
    g: &Global,
    source: &SessionManager,
    cache: Option<&Cache>,
) -> Result<SessionManager, Failure> {
    let serial = g
        .mfa_serial
        .as_deref()
        .ok_or("--mfa-session needs --mfa-serial")?;
    let key = Cache::key(&key_parts(g, source, "mfa-session").await?);
    if let Some(creds) = cache.and_then(|c| c.get(&key, window(g))) {
        return from_cached(source, creds).await;
    }
    let code = match &g.mfa_code {
        Some(c) => c.clone(),
        None => prompt::mfa_code(serial)?,
    };
    let session = source
        .mfa_session(serial, &code, Duration::from_secs(g.mfa_session_duration))
        .await?;
    let creds = session.credentials().await?;
    if let Some(cache) = cache
        && let Err(e) = cache.put(&key, &creds)
    {
        tracing::warn!("{e}");
    }
    from_cached(source, creds).await
}
