"""The oracle of bsm's differential test: how boto3/botocore resolve each
generated configuration (tests/tests/process_env/differential.rs writes the cases).

usage: python boto3_resolve.py CASES.json OUT.json

CASES.json is a list of {"id", "env", "profile"}: `env` is the whole AWS_*
environment of the case (this process starts each case from exactly that);
`profile` is the name given to boto3.Session(profile_name=...), or null for
Session(). For each case the output holds the principal ARN (STS
GetCallerIdentity, at the endpoint AWS_ENDPOINT_URL names) and the session's
region_name, or the exception's class name and message.
"""
import json
import os
import sys

import boto3


def resolve(case):
    for name in [k for k in os.environ if k.startswith("AWS_")]:
        del os.environ[name]
    os.environ.update(case["env"])
    try:
        if case["profile"] is None:
            session = boto3.Session()
        else:
            session = boto3.Session(profile_name=case["profile"])
        region = session.region_name
        # No region: STS's global endpoint, signed for us-east-1, as bsm does.
        sts = session.client("sts", region_name=region or "us-east-1")
        arn = sts.get_caller_identity()["Arn"]
        return {"id": case["id"], "arn": arn, "region": region, "error": None}
    except Exception as e:  # the oracle reports every failure as data
        return {
            "id": case["id"],
            "arn": None,
            "region": None,
            "error": f"{type(e).__name__}: {e}",
        }


def main():
    with open(sys.argv[1]) as f:
        cases = json.load(f)
    results = [resolve(c) for c in cases]
    with open(sys.argv[2], "w") as f:
        json.dump(results, f, indent=1)


if __name__ == "__main__":
    main()
