//! Snapshot parsing never panics, accepts only JSON objects, and whatever
//! parses writes back to JSON that parses to the same snapshot; its masked
//! form never shows the secret or the token.
#![no_main]

use bsm_core::Snapshot;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    if let Ok(snap) = Snapshot::from_json(text) {
        assert!(text.trim_start().starts_with('{'), "only objects parse: {text:?}");
        let again = Snapshot::from_json(&snap.to_json()).expect("our own output parses");
        assert_eq!(again, snap);
        let masked = snap.masked();
        let line = |key: &str| masked.lines().find(|l| l.starts_with(key)).map(str::to_owned);
        assert_eq!(line("aws_secret_access_key = ").as_deref(), Some("aws_secret_access_key = ********"));
        let token = line("aws_session_token = ").unwrap_or_default();
        assert!(token == "aws_session_token = <set>" || token == "aws_session_token = <not set>", "{token}");
    }
});
