//! What bsm tells the person running it on stderr besides its result: the
//! warnings and, with `-v` or `BSM_LOG`, more of what bsm does, one line
//! each (`bsm: warning: ...`).
//!
//! Only bsm's own events go past the warning level. The SDK's crates show
//! their errors, and their warnings from `-v` on, never more, because
//! their debug and trace events carry requests and responses, which hold
//! credentials. bsm's own events never hold a secret key, a session token
//! or a server token.

use std::fmt::Write as _;
use std::io::Write as _;

use tracing::field::{Field, Visit};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::filter::{LevelFilter, Targets};
use tracing_subscriber::layer::{Context, SubscriberExt as _};
use tracing_subscriber::util::SubscriberInitExt as _;

/// The level `BSM_LOG` asks for, raised once per `-v`: warnings by
/// default; `BSM_LOG` takes `off`, `error`, `warn`, `info`, `debug` or
/// `trace`.
pub fn level(verbose: u8, env: Option<&str>) -> Result<LevelFilter, String> {
    let base = match env.map(str::trim).filter(|v| !v.is_empty()) {
        None => LevelFilter::WARN,
        Some(v) => v.parse::<LevelFilter>().map_err(|_| {
            format!("BSM_LOG is `{v}`: it takes off, error, warn, info, debug or trace")
        })?,
    };
    let order = [
        LevelFilter::OFF,
        LevelFilter::ERROR,
        LevelFilter::WARN,
        LevelFilter::INFO,
        LevelFilter::DEBUG,
        LevelFilter::TRACE,
    ];
    let at = order.iter().position(|l| *l == base).unwrap_or(2);
    Ok(order[(at + usize::from(verbose)).min(order.len() - 1)])
}

/// Sends bsm's events at `level` to stderr, and the SDK's one level lower
/// (its errors by default, its warnings from `-v` on, never more): the
/// SDK warns of each source it tried before bsm's own error says the
/// same in one line, with a hint.
pub fn init(level: LevelFilter) {
    let sdk = if level >= LevelFilter::INFO {
        LevelFilter::WARN
    } else {
        level.min(LevelFilter::ERROR)
    };
    let targets = Targets::new()
        .with_target("bsm", level)
        .with_target("bsm_core", level)
        // aws-config's warning that a refreshed `aws login` token could
        // not be written back (a full disk): the session is lost with the
        // next run, so the person must hear it now.
        .with_target("aws_config::login", level.min(LevelFilter::WARN))
        .with_default(sdk);
    // A filter of the whole subscriber, not one per layer, and a layer that
    // writes each line from a buffer of its own: neither uses a thread-local,
    // so an event logged while the main thread's thread-locals are torn down
    // at exit (a cache generation dropped then) is written, not a panic
    // that aborts the process.
    let _ = tracing_subscriber::registry()
        .with(targets)
        .with(Lines)
        .try_init();
}

/// Writes `bsm: warning: message key=value ...`, one line per event, to
/// stderr.
struct Lines;

impl<S: Subscriber> tracing_subscriber::Layer<S> for Lines {
    fn on_event(&self, event: &Event<'_>, _ctx: Context<'_, S>) {
        let level = match *event.metadata().level() {
            Level::ERROR => "error",
            Level::WARN => "warning",
            Level::INFO => "info",
            Level::DEBUG => "debug",
            Level::TRACE => "trace",
        };
        let mut fields = Fields::default();
        event.record(&mut fields);
        let mut line = format!("bsm: {level}: {}", fields.message);
        for (name, value) in &fields.others {
            let _ = write!(line, " {name}={value}");
        }
        line.push('\n');
        // Nothing to do if stderr is gone.
        let _ = std::io::stderr().write_all(line.as_bytes());
    }
}

/// An event's message, and its other fields as `name=value` text.
#[derive(Default)]
struct Fields {
    message: String,
    others: Vec<(&'static str, String)>,
}

impl Visit for Fields {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if field.name() == "message" {
            let _ = write!(self.message, "{value:?}");
        } else {
            self.others.push((field.name(), format!("{value:?}")));
        }
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            self.message.push_str(value);
        } else {
            self.others.push((field.name(), format!("{value:?}")));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_v_raises_the_level_and_bsm_log_sets_it() {
        assert_eq!(level(0, None), Ok(LevelFilter::WARN));
        assert_eq!(level(1, None), Ok(LevelFilter::INFO));
        assert_eq!(level(2, None), Ok(LevelFilter::DEBUG));
        assert_eq!(level(9, None), Ok(LevelFilter::TRACE));
        assert_eq!(level(0, Some("off")), Ok(LevelFilter::OFF));
        assert_eq!(level(0, Some("DEBUG")), Ok(LevelFilter::DEBUG));
        assert_eq!(level(1, Some("error")), Ok(LevelFilter::WARN));
        assert_eq!(level(0, Some(" ")), Ok(LevelFilter::WARN));
        assert!(
            level(0, Some("loud"))
                .unwrap_err()
                .contains("BSM_LOG is `loud`")
        );
    }
}
