#![allow(unexpected_cfgs, dead_code)]
// A service whose feature is off: calling its accessor names the feature
// and the line to add, not "no method named ..." with a hint that points
// away from the fix.
mod error {
    #[derive(Debug)]
    pub struct UnknownService(pub String);
    impl UnknownService {
        pub fn new(s: &str) -> Self {
            Self(s.to_owned())
        }
    }
}
pub struct SessionManager;
pub trait Service {}
mod service {
    pub mod private {
        pub trait Sealed {}
    }
}

bsm_macros::services!(
    r#"
[[service]]
crate = "aws-sdk-sqs"
feature = "sqs"
accessor = "sqs_client"
path = "aws_sdk_sqs"
"#
);

fn main() {
    let bsm = SessionManager;
    let _sqs = bsm.sqs_client();
}
