//! Who the manager's credentials belong to: account id, user id, principal
//! ARN (one STS `GetCallerIdentity`, cached per cache generation), the
//! account alias (IAM `ListAccountAliases`), their masked forms, and the
//! who-am-i summary.

use std::pin::Pin;
use std::task::{Context, Poll};

use crate::client_cache::Generation;
use crate::identity::{AliasStatus, Identity, WhoAmI};
use crate::mask::{mask_account_id, mask_arn, mask_user_id};
use crate::{Error, Result, SessionManager};

impl SessionManager {
    /// The caller's identity: one STS `GetCallerIdentity`, cached until
    /// [`clear_cache`](Self::clear_cache). Concurrent callers share one
    /// request and its outcome: a wave of N callers sends one
    /// `GetCallerIdentity` (with the client's retries), and every caller gets
    /// the identity or the same error. No error is kept: the next call after
    /// a failure tries again.
    ///
    /// It always asks STS, even when the credentials carry an account id
    /// (assumed roles, SSO, container credentials do): STS's answer also
    /// holds the user id and ARN, and is the one source of truth for all
    /// three. Without a configured region the request goes to STS signed
    /// for `us-east-1`, as in the Python original.
    ///
    /// # Errors
    ///
    /// The readers of the cached identity (this one, the account id, user
    /// id and ARN, and their masked forms) give their [`Error`] boxed: their
    /// warm call is a read of the cache, and with the error behind a pointer
    /// the `Result` is the size of the value (a `String`'s 24 bytes), not
    /// of the much larger error, which each caller's `.await` would move
    /// (the test `a_readers_result_is_the_size_of_its_value` pins it). `?`
    /// unboxes it into bsm's [`Result`] (`From<Box<Error>> for Error`), and
    /// `Box<Error>` is an `std::error::Error` itself, for `anyhow` and
    /// `Box<dyn Error>`.
    ///
    /// ```no_run
    /// # use bsm_core as bsm;
    /// async fn account(bsm: &bsm::SessionManager) -> bsm::Result<String> {
    ///     let id = bsm.aws_account_id().await?;
    ///     Ok(id)
    /// }
    /// ```
    pub fn identity(&self) -> impl Future<Output = Result<Identity, Box<Error>>> + Send + '_ {
        self.with_identity(Identity::clone)
    }

    /// Runs `f` on the cached identity, fetching it first if needed; copies
    /// only what `f` takes.
    fn with_identity<R, F>(&self, f: F) -> WithIdentity<'_, R, F>
    where
        F: Fn(&Identity) -> R + Copy + Send + Unpin + 'static,
        R: Send + 'static,
    {
        WithIdentity {
            manager: self,
            f,
            fetch: None,
        }
    }

    /// The cached identity, fetched from STS by one caller for all.
    async fn fetch_identity<R>(&self, f: impl Fn(&Identity) -> R) -> Result<R, Box<Error>> {
        let generation = self.recent_generation();
        let identity = generation
            .identity
            .get_or_try_init(|| async {
                tracing::debug!("calling STS GetCallerIdentity");
                let out = self
                    .identity_sts(&generation)
                    .get_caller_identity()
                    .send()
                    .await
                    .map_err(|e| Error::service("STS GetCallerIdentity", e))?;
                Ok::<_, Error>(Identity {
                    account_id: out.account.unwrap_or_default(),
                    user_id: out.user_id.unwrap_or_default(),
                    arn: out.arn.unwrap_or_default(),
                })
            })
            .await?;
        Ok(f(identity))
    }

    /// The account id, e.g. `123456789012` (see [`identity`](Self::identity)).
    pub fn aws_account_id(&self) -> impl Future<Output = Result<String, Box<Error>>> + Send + '_ {
        self.with_identity(|i| i.account_id.clone())
    }

    /// The user id (see [`identity`](Self::identity)).
    pub fn aws_account_user_id(
        &self,
    ) -> impl Future<Output = Result<String, Box<Error>>> + Send + '_ {
        self.with_identity(|i| i.user_id.clone())
    }

    /// The principal ARN (see [`identity`](Self::identity)).
    pub fn principal_arn(&self) -> impl Future<Output = Result<String, Box<Error>>> + Send + '_ {
        self.with_identity(|i| i.arn.clone())
    }

    /// `12********12`.
    pub async fn masked_aws_account_id(&self) -> Result<String, Box<Error>> {
        Ok(mask_account_id(&self.aws_account_id().await?))
    }

    /// `AIDA***1234`.
    pub async fn masked_aws_account_user_id(&self) -> Result<String, Box<Error>> {
        Ok(mask_user_id(&self.aws_account_user_id().await?))
    }

    /// `arn:aws:iam::12********12:user/alice`.
    pub async fn masked_principal_arn(&self) -> Result<String, Box<Error>> {
        Ok(mask_arn(&self.principal_arn().await?))
    }

    /// The account's first alias (IAM `ListAccountAliases`), `None` when it
    /// has none. Cached until [`clear_cache`](Self::clear_cache); an error
    /// (e.g. `AccessDenied`) is returned and not cached.
    #[cfg(feature = "iam")]
    #[cfg_attr(docsrs, doc(cfg(feature = "iam")))]
    pub async fn aws_account_alias(&self) -> Result<Option<String>> {
        let generation = self.generation();
        generation
            .alias
            .get_or_try_init(|| async {
                let iam = if generation.sdk_config.region().is_some() {
                    self.client_in::<aws_sdk_iam::Client>(&generation)
                } else {
                    // IAM is global; without a region, sign for its home.
                    self.build_client_in::<aws_sdk_iam::Client>(&generation, |b| {
                        b.region(aws_types::region::Region::from_static(
                            crate::credentials::GLOBAL_STS_REGION,
                        ))
                    })
                };
                let out = iam
                    .list_account_aliases()
                    .send()
                    .await
                    .map_err(|e| Error::service("IAM ListAccountAliases", e))?;
                Ok(out.account_aliases.into_iter().next())
            })
            .await
            .cloned()
    }

    /// The who-am-i summary; `masked` hides the account id in every value.
    /// An identity error is returned; an alias error shows as
    /// `<unavailable: CODE>`.
    pub async fn who_am_i(&self, masked: bool) -> Result<WhoAmI> {
        let id = self.identity().await?;
        #[cfg(feature = "iam")]
        let alias = match self.aws_account_alias().await {
            Ok(Some(a)) => AliasStatus::Set(a),
            Ok(None) => AliasStatus::NotSet,
            Err(e) => AliasStatus::Unavailable(e.code().unwrap_or("Unknown").to_owned()),
        };
        #[cfg(not(feature = "iam"))]
        let alias = AliasStatus::Unavailable("enable the cargo feature `iam` of bsm".to_owned());
        let (user_id, account_id, principal_arn) = if masked {
            (
                mask_user_id(&id.user_id),
                mask_account_id(&id.account_id),
                mask_arn(&id.arn),
            )
        } else {
            (id.user_id, id.account_id, id.arn)
        };
        Ok(WhoAmI {
            user_id,
            account_id,
            principal_arn,
            alias,
            region: self.aws_region().map(str::to_owned),
        })
    }

    /// Prints [`who_am_i`](Self::who_am_i) to stdout.
    pub async fn print_who_am_i(&self, masked: bool) -> Result<()> {
        println!("{}", self.who_am_i(masked).await?);
        Ok(())
    }

    /// The STS client for identity calls: the cached one when the `sts`
    /// feature exposes it and a region is set; else one kept for identity
    /// calls, signed for `us-east-1` (STS's global endpoint's region) when no
    /// region is set, as in the Python original.
    pub(crate) fn identity_sts(&self, generation: &Generation) -> aws_sdk_sts::Client {
        let has_region = generation.sdk_config.region().is_some();
        #[cfg(feature = "sts")]
        if has_region {
            return self.client_in::<aws_sdk_sts::Client>(generation);
        }
        generation
            .internal_sts
            .get_or_init(|| {
                let global = (!has_region).then(|| {
                    aws_types::region::Region::from_static(crate::credentials::GLOBAL_STS_REGION)
                });
                self.sts_in(generation, global)
            })
            .clone()
    }
}

/// The identity readers give their error boxed (see
/// [`SessionManager::identity`]); `?` unboxes it into a function that
/// returns bsm's [`Result`].
impl From<Box<Error>> for Error {
    fn from(e: Box<Error>) -> Self {
        *e
    }
}

/// A fetch of the identity in progress, on the heap.
type Fetch<'a, R> = Pin<Box<dyn Future<Output = Result<R, Box<Error>>> + Send + 'a>>;

/// The future of the identity methods. A hand-written future rather than an
/// `async fn`: its first poll reads the cached identity and is done, with no
/// state machine to step through; on a miss it fetches, the fetch's large
/// state on the heap. (Two nested `async fn`s cost a warm call several times
/// the work of this form; the counts are in BENCHMARKS.md.)
struct WithIdentity<'a, R, F> {
    manager: &'a SessionManager,
    f: F,
    fetch: Option<Fetch<'a, R>>,
}

impl<R, F> Future for WithIdentity<'_, R, F>
where
    F: Fn(&Identity) -> R + Copy + Send + Unpin + 'static,
    R: Send + 'static,
{
    type Output = Result<R, Box<Error>>;

    #[inline]
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<R, Box<Error>>> {
        let this = self.get_mut();
        if this.fetch.is_none() {
            let id = this.manager.current_generation_id();
            // SAFETY (both blocks): the pointer is read at once, on this
            // thread, by `f`, one of this module's closures, which clones a
            // field and calls nothing that could reach `remember`.
            let found = unsafe { crate::client_cache::find_recent(id, |g| g.identity.get()) };
            if let Some(identity) = found {
                #[cfg(debug_assertions)]
                let _reading = crate::client_cache::Reading::start();
                let identity = unsafe { identity.as_ref() };
                return Poll::Ready(Ok((this.f)(identity)));
            }
        }
        this.poll_fetch(cx)
    }
}

impl<R, F> WithIdentity<'_, R, F>
where
    F: Fn(&Identity) -> R + Copy + Send + Unpin + 'static,
    R: Send + 'static,
{
    /// The cold half of `poll`: starts or goes on with the fetch. Apart, so
    /// that the warm half is small enough to inline into the caller's poll.
    #[cold]
    #[inline(never)]
    fn poll_fetch(&mut self, cx: &mut Context<'_>) -> Poll<Result<R, Box<Error>>> {
        let fetch = self
            .fetch
            .get_or_insert_with(|| fetch_boxed(self.manager, self.f));
        let outcome = std::task::ready!(fetch.as_mut().poll(cx));
        // Polled again after this, it starts over rather than polling a
        // finished future.
        self.fetch = None;
        Poll::Ready(outcome)
    }
}

/// The fetch, on the heap: its state (the STS call's) is some 5 KB. Made in
/// a function of its own, so that a warm call's stack frame does not hold
/// room for it (the compiler builds it on the stack before moving it into
/// the box).
#[cold]
#[inline(never)]
fn fetch_boxed<R, F>(manager: &SessionManager, f: F) -> Fetch<'_, R>
where
    F: Fn(&Identity) -> R + Send + 'static,
    R: Send + 'static,
{
    Box::pin(manager.fetch_identity(f))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What the boxed error is for: a warm reader's `Result` (and the
    /// `Poll` around it) is no larger than the value it carries, however
    /// large `Error` grows.
    #[test]
    fn a_readers_result_is_the_size_of_its_value() {
        use std::mem::size_of;
        assert_eq!(size_of::<Result<String, Box<Error>>>(), size_of::<String>());
        assert_eq!(
            size_of::<Poll<Result<String, Box<Error>>>>(),
            size_of::<String>()
        );
        assert!(
            size_of::<Error>() > 2 * size_of::<String>(),
            "the reason to box it"
        );
    }
}
