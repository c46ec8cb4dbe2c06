//! A tour of bsm, run by `cargo xtask demo` against a local moto emulator:
//! who am I, a bucket and an object through the cached S3 client, a queue
//! through SQS, an assumed role, its credentials handed to the AWS CLI and
//! through a snapshot file.
//!
//! It reads everything from the environment like any AWS program
//! (`AWS_ENDPOINT_URL`, `AWS_REGION`, keys), so pointed at real AWS it would
//! create real resources: the demo command points it at moto.

use std::time::Duration;

use bsm::SessionManager;
use bsm::aws_sdk_s3::primitives::ByteStream;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let bsm = SessionManager::builder()
        // moto answers S3 on its own host name only in path style.
        .configure::<bsm::aws_sdk_s3::Client>(|b| b.force_path_style(true))
        .build()
        .await?;
    println!("== who am I (masked, for logs)");
    bsm.print_who_am_i(true).await?;

    println!("\n== S3 through the cached client");
    let s3 = bsm.s3_client();
    let bucket = format!("bsm-tour-{}", std::process::id());
    s3.create_bucket().bucket(&bucket).send().await?;
    s3.put_object()
        .bucket(&bucket)
        .key("hello.txt")
        .body(ByteStream::from_static(b"hello from bsm"))
        .send()
        .await?;
    let body = bsm
        .s3_client()
        .get_object()
        .bucket(&bucket)
        .key("hello.txt")
        .send()
        .await?
        .body;
    let text = String::from_utf8(body.collect().await?.into_bytes().to_vec())?;
    println!("s3://{bucket}/hello.txt = {text:?}");
    println!("clients built so far: {}", bsm.cache_stats().clients_built);

    println!("\n== SQS");
    let sqs = bsm.sqs_client();
    let url = sqs
        .create_queue()
        .queue_name("bsm-tour")
        .send()
        .await?
        .queue_url
        .unwrap_or_default();
    sqs.send_message()
        .queue_url(&url)
        .message_body("hi")
        .send()
        .await?;
    let got = sqs.receive_message().queue_url(&url).send().await?;
    let first = got
        .messages()
        .first()
        .and_then(|m| m.body())
        .unwrap_or("<none>");
    println!("queue {url} -> {first:?}");

    println!("\n== assume a role (auto-refreshing: no request until first use)");
    let admin = bsm
        .assume_role("arn:aws:iam::123456789012:role/bsm-tour-admin")
        .role_session_name("tour")
        .duration(Duration::from_secs(900))
        .auto_refresh(true)
        .send()
        .await?;
    println!("assumed: {}", admin.masked_principal_arn().await?);
    println!("same endpoint as the source: {:?}", admin.endpoint_url());

    println!("\n== hand the role's credentials to the AWS CLI (one command's environment)");
    let mut aws = std::process::Command::new("aws");
    aws.args([
        "sts",
        "get-caller-identity",
        "--output",
        "text",
        "--query",
        "Arn",
    ]);
    admin.aws_cli_env().await?.apply(&mut aws);
    match aws.output() {
        Ok(out) => println!("aws says: {}", String::from_utf8_lossy(&out.stdout).trim()),
        Err(e) => println!("(the AWS CLI is not on PATH: {e})"),
    }

    println!("\n== a snapshot file round trip (mode 0600, deleted when the guard drops)");
    let path = std::env::temp_dir().join(format!("bsm-tour-{}.json", std::process::id()));
    {
        let guard = admin.temp_snapshot(&path).await?;
        let mut back = SessionManager::builder().snapshot(&bsm::Snapshot::read(guard.path())?);
        if let Some(endpoint) = admin.endpoint_url() {
            back = back.endpoint_url(endpoint);
        }
        let back = back.build().await?;
        println!("read back: {}", back.masked_principal_arn().await?);
    }
    println!("snapshot deleted: {}", !path.exists());
    Ok(())
}
