//! Snapshot parsing never panics, and whatever parses writes back to JSON
//! that parses to the same snapshot.
#![no_main]

use bsm_core::Snapshot;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    if let Ok(snap) = Snapshot::from_json(text) {
        let again = Snapshot::from_json(&snap.to_json()).expect("our own output parses");
        assert_eq!(again, snap);
        let masked = snap.masked();
        assert!(!masked.contains(&snap.aws_secret_access_key) || snap.aws_secret_access_key.len() < 3);
    }
});
