//! [`Input`]: which argument an `Error::InvalidInput` rejected.

/// The input an `Error::InvalidInput` rejected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Input {
    /// A region.
    Region,
    /// A profile name.
    ProfileName,
    /// Profile files: given together with a ready `SdkConfig`, or a pipe
    /// where a file should be.
    ProfileFiles,
    /// An endpoint URL.
    EndpointUrl,
    /// An access key id.
    AccessKeyId,
    /// A secret access key.
    SecretAccessKey,
    /// A session token.
    SessionToken,
    /// A role ARN.
    RoleArn,
    /// A role session name.
    RoleSessionName,
    /// A role's session duration.
    Duration,
    /// An external id.
    ExternalId,
    /// An MFA device's serial number or ARN.
    MfaSerial,
    /// An MFA code.
    MfaCode,
    /// An MFA session's duration.
    MfaSessionDuration,
    /// How long before their end an auto-refreshing role's credentials are
    /// renewed.
    RefreshBuffer,
    /// The credential server's address.
    ServerAddress,
    /// Snapshot JSON.
    SnapshotJson,
    /// Where the console opens after sign-in.
    ConsoleDestination,
    /// `AWS_LOGIN_CACHE_DIRECTORY`, the folder of `aws login` tokens.
    LoginCacheDirectory,
    /// The name source keys are stored under in the OS credential store.
    KeysName,
    /// An OS credential store's name (`BSM_KEYCHAIN`).
    KeychainBackend,
}

impl std::fmt::Display for Input {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Input::Region => "region",
            Input::ProfileName => "profile name",
            Input::ProfileFiles => "profile files",
            Input::EndpointUrl => "endpoint URL",
            Input::AccessKeyId => "access key id",
            Input::SecretAccessKey => "secret access key",
            Input::SessionToken => "session token",
            Input::RoleArn => "role ARN",
            Input::RoleSessionName => "role session name",
            Input::Duration => "duration",
            Input::ExternalId => "external id",
            Input::MfaSerial => "MFA serial",
            Input::MfaCode => "MFA code",
            Input::MfaSessionDuration => "MFA session duration",
            Input::RefreshBuffer => "refresh buffer",
            Input::ServerAddress => "server address",
            Input::SnapshotJson => "snapshot JSON",
            Input::ConsoleDestination => "console destination",
            Input::LoginCacheDirectory => "login cache folder (AWS_LOGIN_CACHE_DIRECTORY)",
            Input::KeysName => "keys name",
            Input::KeychainBackend => "keychain",
        })
    }
}
