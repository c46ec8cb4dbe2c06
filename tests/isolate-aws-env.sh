#!/bin/sh
# cargo's runner for this workspace's binaries on Unix (.cargo/config.toml).
#
# A test binary (target/*/deps/*) runs the way a developer's machine would
# run it, and the same in any shell:
# - none of the AWS_* variables of the shell that started it (the rule of
#   tests/src/aws_env.rs, which the tests and xtask apply to what they run);
# - $HOME a fresh copy of tests/lived-in-home, whose ~/.aws holds a
#   [default] profile of another principal and role, credential_process, SSO
#   and login profiles (a test that passes only because the home is empty is
#   a defect); a binary whose name has `empty_home` in it gets an empty home
#   instead;
# - no instance metadata (nothing is ever sent to 169.254.169.254);
# - $TMPDIR a fresh folder, so the temporary files of its tests go where
#   nothing else is.
# Both folders are removed when the binary exits, however it ended. Other
# binaries (the examples, xtask, bsm) run as they are.
case "$1" in
*/deps/*)
    for var in $(env | sed -n 's/^\(AWS_[A-Za-z0-9_]*\)=.*/\1/p'); do
        unset "$var"
    done
    export AWS_EC2_METADATA_DISABLED=true
    home=$(mktemp -d "${TMPDIR:-/tmp}/bsm-home.XXXXXX") || exit 1
    tmp=
    # Removed on every way out, Ctrl-C and a closed terminal included.
    trap 'rm -rf "$home" ${tmp:+"$tmp"}' EXIT
    trap 'exit 130' INT
    trap 'exit 143' TERM
    trap 'exit 129' HUP
    tmp=$(mktemp -d "${TMPDIR:-/tmp}/bsm-tmp.XXXXXX") || exit 1
    case "$1" in
    *empty_home*) ;;
    *)
        cp -R "$(cd "$(dirname "$0")" && pwd)/lived-in-home/." "$home/" || exit 1
        # Where it is, for the tests that set HOME themselves.
        export BSM_LIVED_IN_HOME="$home"
        ;;
    esac
    HOME=$home TMPDIR=$tmp "$@"
    exit "$?"
    ;;
esac
exec "$@"
