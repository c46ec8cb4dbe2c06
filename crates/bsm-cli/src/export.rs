//! `bsm export`: the credentials as shell lines (sh, fish, PowerShell,
//! cmd.exe), a snapshot (JSON) or `credential_process` output, each value
//! quoted so that the shell reads back exactly the bytes written.

use bsm::SessionManager;
use clap::ValueEnum;

use crate::Failure;

/// The output formats, named as `aws configure export-credentials` names
/// them, plus fish and the snapshot.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// `export VAR='value'` / `unset VAR` lines for sh, bash, zsh.
    Env,
    /// `VAR='value'` lines without `export`, for sh.
    EnvNoExport,
    /// `set -gx VAR 'value';` lines for fish.
    Fish,
    /// `$Env:VAR = 'value'` lines for PowerShell.
    Powershell,
    /// `set "VAR=value"` lines for cmd.exe (values it cannot carry are refused).
    WindowsCmd,
    /// A snapshot, readable by `bsm snapshot show` and the Python package.
    Json,
    /// The AWS `credential_process` JSON (Version 1).
    Process,
}

/// The text `bsm export --format FORMAT` prints.
pub async fn export(bsm: &SessionManager, format: Format) -> Result<String, Failure> {
    match format {
        Format::Json => Ok(format!("{}\n", bsm.to_snapshot().await?.to_json())),
        Format::Process => process(bsm).await,
        _ => {
            let env = bsm.aws_cli_env().await?;
            env.vars()
                .map(|(name, value)| line(format, name, value))
                .collect()
        }
    }
}

async fn process(bsm: &SessionManager) -> Result<String, Failure> {
    let creds = bsm.credentials().await?;
    process_json(&creds, bsm.expiration_time().or(creds.expiry()))
}

/// The `credential_process` JSON (Version 1) of `creds`, ending at
/// `expiration`.
pub fn process_json(
    creds: &bsm::aws_credential_types::Credentials,
    expiration: Option<std::time::SystemTime>,
) -> Result<String, Failure> {
    let mut out = serde_json::Map::new();
    out.insert("Version".into(), 1.into());
    out.insert("AccessKeyId".into(), creds.access_key_id().into());
    out.insert("SecretAccessKey".into(), creds.secret_access_key().into());
    if let Some(token) = creds.session_token() {
        out.insert("SessionToken".into(), token.into());
    }
    if let Some(exp) = expiration {
        let dt = bsm::aws_smithy_types::DateTime::from(exp);
        let text = dt.fmt(bsm::aws_smithy_types::date_time::Format::DateTime)?;
        out.insert("Expiration".into(), text.into());
    }
    if let Some(account) = creds.account_id() {
        out.insert("AccountId".into(), account.as_str().into());
    }
    Ok(format!("{}\n", serde_json::Value::Object(out)))
}

/// One variable set (or removed) in `format`.
pub fn line(format: Format, name: &str, value: Option<&str>) -> Result<String, Failure> {
    Ok(match (format, value) {
        (Format::Env, Some(v)) => format!("export {name}={}\n", sh_quote(v)),
        (Format::EnvNoExport, Some(v)) => format!("{name}={}\n", sh_quote(v)),
        (Format::Env | Format::EnvNoExport, None) => format!("unset {name}\n"),
        (Format::Fish, Some(v)) => format!(
            "set -gx {name} '{}';\n",
            v.replace('\\', "\\\\").replace('\'', "\\'")
        ),
        (Format::Fish, None) => format!("set -e {name};\n"),
        (Format::Powershell, Some(v)) => format!("$Env:{name} = '{}'\n", ps_escape(v)),
        (Format::Powershell, None) => {
            format!("Remove-Item Env:{name} -ErrorAction SilentlyContinue\n")
        }
        (Format::WindowsCmd, Some(v)) => {
            // cmd.exe has no quoting for %, !, ^, quotes or line breaks:
            // refuse what it cannot carry rather than write a line that
            // means something else.
            let safe = |c: char| c.is_ascii_alphanumeric() || "+/=._:,@- ".contains(c);
            if let Some(bad) = v.chars().find(|c| !safe(*c)) {
                return Err(format!(
                    "the value of {name} holds {bad:?}, which cmd.exe cannot carry safely; \
                     use --format powershell"
                )
                .into());
            }
            format!("set \"{name}={v}\"\n")
        }
        (Format::WindowsCmd, None) => format!("set {name}=\n"),
        (Format::Json | Format::Process, _) => String::new(),
    })
}

/// POSIX single quotes: everything literal, `'` as `'\''`.
fn sh_quote(v: &str) -> String {
    format!("'{}'", v.replace('\'', r"'\''"))
}

/// PowerShell single-quoted strings: a quote is doubled; PowerShell also
/// takes the typographic single quotes as quotes.
fn ps_escape(v: &str) -> String {
    let mut out = String::with_capacity(v.len());
    for c in v.chars() {
        if matches!(c, '\'' | '\u{2018}' | '\u{2019}' | '\u{201A}' | '\u{201B}') {
            out.push(c);
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoting() {
        let l = |f, v| line(f, "A", Some(v)).unwrap();
        assert_eq!(l(Format::Env, "x'y"), "export A='x'\\''y'\n");
        assert_eq!(l(Format::EnvNoExport, "x"), "A='x'\n");
        assert_eq!(line(Format::Env, "A", None).unwrap(), "unset A\n");
        assert_eq!(l(Format::Fish, "x'y\\"), "set -gx A 'x\\'y\\\\';\n");
        assert_eq!(
            l(Format::Powershell, "x'y\u{2019}"),
            "$Env:A = 'x''y\u{2019}\u{2019}'\n"
        );
        assert_eq!(l(Format::WindowsCmd, "ab+/=="), "set \"A=ab+/==\"\n");
        assert!(line(Format::WindowsCmd, "A", Some("50%")).is_err());
        assert!(line(Format::WindowsCmd, "A", Some("a\nb")).is_err());
        assert_eq!(line(Format::WindowsCmd, "A", None).unwrap(), "set A=\n");
    }
}
