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
feature = "s3"
accessor = "s3_client"
path = "aws_sdk_s3"

[[service]]
crate = "aws-sdk-s3"
feature = "s3"
accessor = "s3_client"
path = "aws_sdk_s3"

[[service]]
crate = "aws-sdk-foo-bar"
feature = "foo_bar"
accessor = "foo_bar_client"
path = "aws_sdk_foo_bar"

[[service]]
crate = "aws-sdk-foo--bar"
feature = "foo__bar"
accessor = "foo__bar_client"
path = "aws_sdk_foo__bar"
"#
);

fn main() {}
