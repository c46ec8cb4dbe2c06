//! Captures every tracing event into memory, for tests that check what bsm
//! logs (counts per cache generation, no secret in any message or field).

use std::fmt::Write as _;
use std::sync::{Arc, Mutex};

use tracing::field::{Field, Visit};
use tracing_subscriber::layer::{Context, SubscriberExt as _};

/// One event: its target, level, and every field (the message included) as
/// `name=value` text.
#[derive(Debug, Clone)]
pub struct Event {
    /// The module path that logged it, e.g. `bsm_core::session`.
    pub target: String,
    /// `TRACE` .. `ERROR`.
    pub level: tracing::Level,
    /// `(name, value)` of each field, `message` included.
    pub fields: Vec<(String, String)>,
    /// The name of the thread that logged it (libtest names each test's
    /// thread after the test), if it has one.
    pub thread: Option<String>,
}

impl Event {
    /// A field's value as text.
    #[must_use]
    pub fn field(&self, name: &str) -> Option<&str> {
        self.fields
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// The whole event as one line, for searching.
    #[must_use]
    pub fn text(&self) -> String {
        let mut out = format!("{} {}", self.level, self.target);
        for (k, v) in &self.fields {
            let _ = write!(out, " {k}={v}");
        }
        out
    }
}

/// The events captured since [`install`].
#[derive(Debug, Clone, Default)]
pub struct Captured(Arc<Mutex<Vec<Event>>>);

impl Captured {
    /// A copy of every event so far.
    ///
    /// # Panics
    /// If the lock was poisoned.
    #[must_use]
    pub fn events(&self) -> Vec<Event> {
        self.0.lock().unwrap().clone()
    }
}

struct Layer(Captured);

struct Fields(Vec<(String, String)>);

impl Visit for Fields {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        self.0.push((field.name().to_owned(), format!("{value:?}")));
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.push((field.name().to_owned(), value.to_owned()));
    }
}

impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for Layer {
    fn on_event(&self, event: &tracing::Event<'_>, _ctx: Context<'_, S>) {
        let mut fields = Fields(Vec::new());
        event.record(&mut fields);
        let meta = event.metadata();
        self.0.0.lock().unwrap().push(Event {
            target: meta.target().to_owned(),
            level: *meta.level(),
            fields: fields.0,
            thread: std::thread::current().name().map(str::to_owned),
        });
    }
}

/// Runs `f` with a subscriber that captures every event of this thread (and
/// only of it: other tests of the binary are not seen, nor see these).
pub fn on_this_thread<R>(f: impl FnOnce(&Captured) -> R) -> R {
    let captured = Captured::default();
    let subscriber = tracing_subscriber::registry().with(Layer(captured.clone()));
    tracing::subscriber::with_default(subscriber, || f(&captured))
}

/// The process-wide subscriber that captures every event at every level,
/// installed by the first call. Every test of a binary that logs sees the
/// events of the others too: it picks its own by a field (a role ARN, a
/// secret it made) or by [`Event::thread`].
///
/// # Panics
/// If a global subscriber other than this one is already set.
pub fn global() -> &'static Captured {
    static CAPTURED: std::sync::OnceLock<Captured> = std::sync::OnceLock::new();
    CAPTURED.get_or_init(|| {
        let captured = Captured::default();
        let subscriber = tracing_subscriber::registry().with(Layer(captured.clone()));
        tracing::subscriber::set_global_default(subscriber).expect("no other global subscriber");
        captured
    })
}
