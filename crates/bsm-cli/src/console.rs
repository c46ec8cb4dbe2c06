//! `bsm console`: opens the AWS console as the command's principal (a
//! sign-in URL from the library's `console_url`), in `$BROWSER` when set,
//! else with `xdg-open`, `open` or `start`; with `--print`, prints the URL
//! on stdout and opens nothing. The URL holds a sign-in token: it goes to
//! the browser or to stdout, never to stderr, and the opener's own output
//! is discarded (some echo what they were given).

use std::process::{Command, ExitCode, Stdio};
use std::time::Duration;

use bsm::SessionManager;

use crate::Failure;

/// Makes the sign-in URL and opens or prints it.
pub async fn console(
    bsm: &SessionManager,
    print: bool,
    destination: Option<String>,
    duration: Option<u64>,
) -> Result<ExitCode, Failure> {
    let mut builder = bsm.console_url();
    if let Some(d) = destination {
        builder = builder.destination(d);
    }
    if let Some(s) = duration {
        builder = builder.duration(Duration::from_secs(s));
    }
    let url = builder.send().await?;
    if print {
        crate::out(&format!("{}\n", url.as_str()))?;
        return Ok(ExitCode::SUCCESS);
    }
    open(url.as_str())?;
    Ok(ExitCode::SUCCESS)
}

/// Each command that may open a URL, best first: the entries of
/// `$BROWSER` (a colon-separated list, each a command whose `%s` is the
/// URL, or that gets it as its last argument), then the platform's own.
fn openers(browser: Option<&str>) -> Vec<Vec<String>> {
    let mut out: Vec<Vec<String>> = browser
        .unwrap_or_default()
        .split(':')
        .map(|entry| {
            entry
                .split_whitespace()
                .map(str::to_owned)
                .collect::<Vec<_>>()
        })
        .filter(|words| !words.is_empty())
        .collect();
    if cfg!(target_os = "macos") {
        out.push(vec!["open".into()]);
    } else if cfg!(windows) {
        out.push(vec![
            "cmd".into(),
            "/c".into(),
            "start".into(),
            String::new(),
        ]);
    } else {
        out.push(vec!["xdg-open".into()]);
    }
    out
}

/// Opens `url` with the first opener that runs and succeeds.
fn open(url: &str) -> Result<(), Failure> {
    let browser = std::env::var("BROWSER").ok();
    for words in openers(browser.as_deref()) {
        let (program, args) = words.split_first().ok_or("an empty opener")?;
        let mut cmd = Command::new(program);
        let mut placed = false;
        for a in args {
            if a.contains("%s") {
                cmd.arg(a.replace("%s", url));
                placed = true;
            } else {
                cmd.arg(a);
            }
        }
        if !placed {
            cmd.arg(url);
        }
        let status = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        if status.is_ok_and(|s| s.success()) {
            return Ok(());
        }
    }
    Err("cannot open a browser: set BROWSER to one, or give --print to print the URL".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn browser_entries_come_first_and_the_platform_opener_last() {
        let got = openers(Some("firefox --new-tab %s:chromium"));
        assert_eq!(got[0], ["firefox", "--new-tab", "%s"]);
        assert_eq!(got[1], ["chromium"]);
        assert_eq!(got.len(), 3);
        assert_eq!(openers(None).len(), 1);
        assert_eq!(openers(Some("::")).len(), 1);
    }
}
