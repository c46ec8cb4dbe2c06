//! Masking of identity values for logs, with the exact formats of the Python
//! original, except that a value too short or malformed to mask safely is
//! masked whole instead of echoed.

/// `123456789012` -> `12********12`: the first and last two characters.
/// Values shorter than 12 characters are masked whole.
#[must_use]
pub fn mask_account_id(account_id: &str) -> String {
    keep_ends(account_id, 2, "********", 12)
}

/// `AIDAEXAMPLEUSERID1234` -> `AIDA***1234`: the first and last four
/// characters. Values shorter than 16 characters are masked whole. A
/// federated user's id starts with the account id (`123456789012:alice`):
/// it is masked as [`mask_account_id`] masks the account, and the rest
/// whole (`12********12:*****`), so the masked id never shows more of the
/// account than the masked account id does.
#[must_use]
pub fn mask_user_id(user_id: &str) -> String {
    if let Some((account, rest)) = user_id.split_once(':')
        && account.len() == 12
        && account.bytes().all(|b| b.is_ascii_digit())
    {
        return format!("{}:{}", mask_account_id(account), whole(rest));
    }
    keep_ends(user_id, 4, "***", 16)
}

/// `AKIAIOSFODNN7EXAMPLE` -> `AKIA***MPLE`: the first four characters (the
/// kind of key: `AKIA` long-lived, `ASIA` temporary) and the last four.
/// Values shorter than 16 characters are masked whole.
#[must_use]
pub fn mask_access_key_id(access_key_id: &str) -> String {
    keep_ends(access_key_id, 4, "***", 16)
}

/// `arn:aws:iam::123456789012:user/alice` -> `arn:aws:iam::12********12:user/alice`:
/// the account field masked with [`mask_account_id`]. Text that is not an ARN
/// is masked whole.
#[must_use]
pub fn mask_arn(arn: &str) -> String {
    let fields: Vec<&str> = arn.splitn(6, ':').collect();
    if fields.len() < 6 || fields[0] != "arn" {
        return whole(arn);
    }
    let account = if fields[4].is_empty() {
        String::new()
    } else {
        mask_account_id(fields[4])
    };
    format!(
        "{}:{}:{}:{}:{account}:{}",
        fields[0], fields[1], fields[2], fields[3], fields[5]
    )
}

fn keep_ends(value: &str, keep: usize, stars: &str, min_len: usize) -> String {
    let chars: Vec<char> = value.chars().collect();
    if chars.len() < min_len {
        return whole(value);
    }
    let head: String = chars[..keep].iter().collect();
    let tail: String = chars[chars.len() - keep..].iter().collect();
    format!("{head}{stars}{tail}")
}

fn whole(value: &str) -> String {
    "*".repeat(value.chars().count().max(1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn python_formats() {
        assert_eq!(mask_account_id("123456789012"), "12********12");
        assert_eq!(mask_user_id("AIDAEXAMPLEUSERID1234"), "AIDA***1234");
        assert_eq!(mask_user_id("AKIAIOSFODNN7EXAMPLE"), "AKIA***MPLE");
        assert_eq!(
            mask_arn("arn:aws:iam::123456789012:user/alice"),
            "arn:aws:iam::12********12:user/alice"
        );
        assert_eq!(
            mask_arn("arn:aws:sts::123456789012:assumed-role/r/s:x"),
            "arn:aws:sts::12********12:assumed-role/r/s:x"
        );
    }

    #[test]
    fn short_or_malformed_values_are_masked_whole() {
        assert_eq!(mask_account_id("abc"), "***");
        assert_eq!(mask_user_id("abc"), "***");
        assert_eq!(mask_user_id(""), "*");
        assert_eq!(mask_arn("not-an-arn"), "**********");
        assert_eq!(
            mask_arn("arn:aws:iam::123:user/x"),
            "arn:aws:iam::***:user/x"
        );
        assert_eq!(mask_arn("arn:aws:s3:::bucket"), "arn:aws:s3:::bucket");
    }

    #[test]
    fn a_federated_user_id_shows_no_more_of_the_account_than_the_account_mask() {
        let masked = mask_user_id("123456789012:alice");
        assert_eq!(masked, "12********12:*****");
        for digit in ["3", "4", "5", "6", "7", "8", "9", "0"] {
            assert!(!masked.contains(digit), "{masked}");
        }
        // Role sessions keep the Python format.
        assert_eq!(
            mask_user_id("AROAEXAMPLEROLEID:deploy-session"),
            "AROA***sion"
        );
    }

    #[test]
    fn multibyte_input_does_not_panic() {
        assert_eq!(mask_user_id("ééééééééééééééééé"), "éééé***éééé");
        assert_eq!(mask_account_id("éé"), "**");
    }
}
