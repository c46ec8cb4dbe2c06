// Prints the caller's principal ARN as the AWS SDK for JavaScript v3 finds
// it: the default credential chain, or the profile named as the first
// argument (the way a JS user pins one). A child process of bsm's handoff
// tests.
import { STSClient, GetCallerIdentityCommand } from "@aws-sdk/client-sts";

const profile = process.argv[2];
const client = new STSClient(profile ? { profile } : {});
try {
  const out = await client.send(new GetCallerIdentityCommand({}));
  console.log(out.Arn);
} catch (err) {
  console.error(`${err.name}: ${err.message}`);
  process.exit(1);
}
