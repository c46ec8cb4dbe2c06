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
crate = "aws-sdk-costexplorer"
feature = "costexplorer"
accessor = "costexplorer_client"
path = "aws_sdk_costexplorer"

[[service]]
crate = "aws-sdk-s3"
feature = "s3"
accessor = "s3_client"
path = "aws_sdk_s3"
retired = true
display_name = "Amazon S3"
"#
);

fn main() {
    assert_eq!(AwsService::ALL, &[AwsService::Costexplorer, AwsService::S3]);
    assert_eq!(AwsService::S3.crate_name(), "aws-sdk-s3");
    assert_eq!(AwsService::S3.feature(), "s3");
    assert_eq!(AwsService::S3.accessor(), "s3_client");
    assert!(AwsService::S3.is_retired());
    assert!(!AwsService::S3.is_enabled());
    assert_eq!(AwsService::ENABLED_COUNT, 0);
    assert_eq!("aws-sdk-costexplorer".parse::<AwsService>().unwrap(), AwsService::Costexplorer);
    assert_eq!("s3".parse::<AwsService>().unwrap().to_string(), "s3");
    assert!("ec2".parse::<AwsService>().is_err());
}
