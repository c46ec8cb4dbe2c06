//! ARN parsing and masking never panic, and a masked ARN never shows the
//! whole account id.
#![no_main]

use bsm_core::mask::{mask_account_id, mask_arn, mask_user_id};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let _ = bsm_core::validate_role_arn(text);
    let masked = mask_arn(text);
    let fields: Vec<&str> = text.splitn(6, ':').collect();
    let account = fields.get(4).copied().unwrap_or("");
    if fields.len() == 6 && fields[0] == "arn" && !account.is_empty() && !account.contains('*') {
        let shown = masked.splitn(6, ':').nth(4).unwrap_or("");
        assert_ne!(shown, account, "{text:?} -> {masked:?}");
    }
    if !text.is_empty() && !text.contains('*') {
        assert_ne!(mask_account_id(text), text);
        assert_ne!(mask_user_id(text), text);
    }
});
