//! Refuses a `credential_process` that calls bsm back for a profile bsm is
//! already resolving (`[profile dev] credential_process = bsm --profile dev
//! export --format process`): without it each bsm would start the next,
//! without end. Each bsm that resolves a profile adds the profile's name to
//! `BSM_RESOLVING_PROFILES` in its own environment, which the SDK passes to
//! the `credential_process` it runs; a bsm that finds its profile there
//! stops with an error naming the loop. `bsm exec` removes the variable
//! from its command's environment: a command run under bsm may use any
//! profile.

/// The profiles being resolved by the bsm processes above this one,
/// comma-separated, outermost first.
pub const VAR: &str = "BSM_RESOLVING_PROFILES";

/// At most this many bsm processes inside one another.
const MAX_DEPTH: usize = 8;

/// Checks that `profile` is not being resolved above, then marks it for
/// the processes below.
///
/// # Safety
/// Changes the process environment: call it before any other thread
/// starts (`main`, before the runtime).
pub unsafe fn enter(profile: &str) -> Result<(), String> {
    let above = std::env::var(VAR).unwrap_or_default();
    let names: Vec<&str> = above.split(',').filter(|n| !n.is_empty()).collect();
    if names.contains(&profile) || names.len() >= MAX_DEPTH {
        let mut chain = names.join(" -> ");
        chain.push_str(" -> ");
        chain.push_str(profile);
        return Err(format!(
            "profile `{profile}` calls bsm back while bsm resolves it ({chain}): its \
             credential_process (or a source_profile's) runs bsm for the same profile; give that \
             bsm --keys NAME or another profile's keys"
        ));
    }
    let value = if above.is_empty() {
        profile.to_owned()
    } else {
        format!("{above},{profile}")
    };
    // SAFETY: the caller guarantees no other thread runs yet.
    unsafe { std::env::set_var(VAR, value) };
    Ok(())
}
