#!/bin/sh
# cargo's runner for this workspace's binaries on Unix (.cargo/config.toml):
# a test binary (target/*/deps/*) runs with no AWS_* variable of the
# developer's shell, no shared config files and no instance metadata, so
# `cargo test` gives the same result in any shell; other binaries (the
# examples, xtask, bsm) run as they are.
case "$1" in
*/deps/*)
    for var in $(env | sed -n 's/^\(AWS_[A-Za-z0-9_]*\)=.*/\1/p'); do
        unset "$var"
    done
    export AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null AWS_EC2_METADATA_DISABLED=true
    ;;
esac
exec "$@"
