#![allow(unexpected_cfgs, dead_code)]
// The items the expansion refers to, as bsm-core defines them.
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
crate = "aws-sdk-s3"
feature =
"#
);

fn main() {}
