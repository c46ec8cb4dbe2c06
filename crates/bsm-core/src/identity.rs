//! What the identity calls answer: [`Identity`] (STS `GetCallerIdentity`),
//! [`AliasStatus`] and the who-am-i summary [`WhoAmI`]. The calls
//! themselves are the manager's (`whoami.rs`).

use std::fmt;

/// The answer of STS `GetCallerIdentity`.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Identity {
    /// The 12-digit account id.
    pub account_id: String,
    /// The unique id of the user or role session.
    pub user_id: String,
    /// The principal's ARN (`arn:aws:sts::...:assumed-role/...` for a role).
    pub arn: String,
}

/// The account alias line of [`WhoAmI`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum AliasStatus {
    /// The account's first alias.
    Set(String),
    /// The account has no alias.
    NotSet,
    /// The lookup failed; the AWS error code (`AccessDenied`, ...), or
    /// `Unknown` when there was none.
    Unavailable(String),
}

/// The who-am-i summary. Its `Display` is the five lines of the Python
/// original's `print_who_am_i`.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct WhoAmI {
    /// User id, masked or raw.
    pub user_id: String,
    /// Account id, masked or raw.
    pub account_id: String,
    /// Principal ARN, masked or raw.
    pub principal_arn: String,
    /// The account alias.
    pub alias: AliasStatus,
    /// The region, if configured.
    pub region: Option<String>,
}

impl fmt::Display for WhoAmI {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let alias = match &self.alias {
            AliasStatus::Set(a) => a.clone(),
            AliasStatus::NotSet => "<not set>".to_owned(),
            AliasStatus::Unavailable(code) => format!("<unavailable: {code}>"),
        };
        writeln!(f, "User Id = {}", self.user_id)?;
        writeln!(f, "AWS Account Id = {}", self.account_id)?;
        writeln!(f, "Principal Arn = {}", self.principal_arn)?;
        writeln!(f, "AWS Account Alias = {alias}")?;
        write!(
            f,
            "AWS Region = {}",
            self.region.as_deref().unwrap_or("<not set>")
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn who_am_i_has_the_python_lines() {
        let w = WhoAmI {
            user_id: "AKIA***MPLE".into(),
            account_id: "12********12".into(),
            principal_arn: "arn:aws:sts::12********12:user/moto".into(),
            alias: AliasStatus::NotSet,
            region: Some("us-east-1".into()),
        };
        assert_eq!(
            w.to_string(),
            "User Id = AKIA***MPLE\nAWS Account Id = 12********12\n\
             Principal Arn = arn:aws:sts::12********12:user/moto\n\
             AWS Account Alias = <not set>\nAWS Region = us-east-1"
        );
        let w = WhoAmI {
            alias: AliasStatus::Unavailable("AccessDenied".into()),
            ..w
        };
        assert!(
            w.to_string()
                .contains("AWS Account Alias = <unavailable: AccessDenied>\n")
        );
    }
}
