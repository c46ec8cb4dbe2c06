//! A failed request to AWS as an [`Error::Service`]: its code, message,
//! request id, HTTP status and [`ServiceErrorKind`], read from the SDK's
//! error (and, for an answer the SDK could not parse, from the XML body's
//! `<Code>`), without ever keeping the raw body.

use crate::error::{BoxError, Error, ServiceErrorKind};

impl Error {
    /// Wraps an SDK operation error: its code (read from the raw body's
    /// XML `<Code>` when the SDK could not read one, as from an emulator or
    /// a proxy answering in another format), message, request id, status
    /// and kind, and the operation's modeled error (or the `SdkError` for a
    /// failure without an answer). The raw answer is dropped: an unreadable
    /// 200 can hold new credentials.
    pub(crate) fn service<E>(
        operation: &'static str,
        err: aws_smithy_runtime_api::client::result::SdkError<
            E,
            aws_smithy_runtime_api::http::Response,
        >,
    ) -> Self
    where
        E: std::error::Error
            + aws_smithy_types::error::metadata::ProvideErrorMetadata
            + Send
            + Sync
            + 'static,
    {
        use aws_smithy_runtime_api::client::result::SdkError;
        use aws_smithy_types::error::metadata::ProvideErrorMetadata as _;
        let code = code_of(&err);
        let message = err.message().map(str::to_owned);
        let raw = err.raw_response();
        let status = raw.map(|r| r.status().as_u16());
        let request_id = err
            .meta()
            .extra("aws_request_id")
            .map(str::to_owned)
            .or_else(|| {
                let headers = raw?.headers();
                ["x-amzn-requestid", "x-amz-request-id"]
                    .iter()
                    .find_map(|h| headers.get(*h))
                    .map(str::to_owned)
            })
            .or_else(|| {
                let body = raw?.body().bytes()?;
                xml_element(std::str::from_utf8(body).ok()?, "RequestId")
            });
        let (kind, source): (ServiceErrorKind, BoxError) = match err {
            SdkError::ServiceError(ctx) => {
                // A success status whose body is not the answer: the SDK
                // reports it as an unhandled service error.
                let ok = status.is_some_and(|s| (200..300).contains(&s));
                let kind = if ok {
                    ServiceErrorKind::MalformedAnswer
                } else {
                    ServiceErrorKind::ErrorAnswer
                };
                (kind, Box::new(ctx.into_err()))
            }
            SdkError::ResponseError(ctx) => {
                let source = SdkError::<E, _>::ResponseError(ctx)
                    .into_source()
                    .unwrap_or_else(|_| "the answer could not be read".into());
                (ServiceErrorKind::MalformedAnswer, source)
            }
            SdkError::TimeoutError(_) => (ServiceErrorKind::Timeout, Box::new(err)),
            SdkError::DispatchFailure(ref d) => {
                let kind = if d.is_timeout() {
                    ServiceErrorKind::Timeout
                } else if d.is_io() {
                    ServiceErrorKind::Connection
                } else {
                    ServiceErrorKind::Other
                };
                (kind, Box::new(err))
            }
            SdkError::ConstructionFailure(_) => (ServiceErrorKind::Construction, Box::new(err)),
            _ => (ServiceErrorKind::Other, Box::new(err)),
        };
        Error::Service {
            operation,
            kind,
            code,
            message,
            request_id,
            status,
            source,
        }
    }
}

/// The AWS error code of an SDK error; when the SDK could not read one, the
/// raw body's XML `<Code>`.
fn code_of<E: aws_smithy_types::error::metadata::ProvideErrorMetadata>(
    err: &aws_smithy_runtime_api::client::result::SdkError<
        E,
        aws_smithy_runtime_api::http::Response,
    >,
) -> Option<String> {
    use aws_smithy_types::error::metadata::ProvideErrorMetadata as _;
    err.code().map(str::to_owned).or_else(|| {
        let raw = err.raw_response()?;
        let body = raw
            .body()
            .bytes()
            .and_then(|b| std::str::from_utf8(b).ok())
            .unwrap_or("");
        xml_code(body)
    })
}

fn xml_code(body: &str) -> Option<String> {
    xml_element(body, "Code")
}

/// The text of the first `<name>` element of an XML error body, if it is
/// a short token (an error code, a request id): never free text, which
/// could be anything the body held.
fn xml_element(body: &str, name: &str) -> Option<String> {
    let open = format!("<{name}>");
    let start = body.find(&open)? + open.len();
    let len = body[start..].find(&format!("</{name}>"))?;
    let value = body[start..start + len].trim();
    (!value.is_empty()
        && value.len() < 128
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b)))
    .then(|| value.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn xml_codes_are_read_from_raw_bodies() {
        assert_eq!(
            xml_code(
                "<ErrorResponse><Errors><Error><Code>AccessDenied</Code></Error></Errors></ErrorResponse>"
            ),
            Some("AccessDenied".into())
        );
        assert_eq!(xml_code("<html>nope</html>"), None);
        assert_eq!(xml_code("<Code></Code>"), None);
        assert_eq!(xml_code("<Code>not a code</Code>"), None);
    }
}
