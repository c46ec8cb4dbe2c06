//! [`StoredKeys`]: the keys stored under one name of a
//! [`KeyStore`](crate::keychain::KeyStore), with what an unfinished
//! rotation left, and their JSON form in the store.

use std::collections::HashMap;

use aws_credential_types::Credentials;

use crate::error::{Error, Input, Result};

/// The provider name the SDK's credentials carry.
pub(crate) const PROVIDER_NAME: &str = "bsm-keychain";

/// The keys stored under one name: the access key the commands use, and
/// what an unfinished rotation left (the user's keys before it asked IAM
/// for a new one, a new key not yet proven, or an old key not yet deleted
/// at IAM). `Debug` shows no secret.
#[derive(Clone, PartialEq, Eq)]
pub struct StoredKeys {
    access_key_id: String,
    secret_access_key: String,
    /// When a rotation asked IAM for a new key (seconds since the epoch,
    /// this machine's clock), and the user's key ids at IAM just before: a
    /// key not among them, not stored, and made then, is the rotation's own.
    creating: Option<(u64, Vec<String>)>,
    pending: Option<(String, String)>,
    retired: Option<String>,
}

impl std::fmt::Debug for StoredKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoredKeys")
            .field("access_key_id", &self.access_key_id)
            .field("secret_access_key", &"** redacted **")
            .field("creating", &self.creating)
            .field("pending", &self.pending.as_ref().map(|(id, _)| id))
            .field("retired", &self.retired)
            .finish()
    }
}

impl StoredKeys {
    /// An access key id and its secret, checked as the SDK would send them:
    /// an id of 16 to 128 letters and digits, a secret of visible ASCII.
    /// The error never repeats the secret.
    pub fn new(
        access_key_id: impl Into<String>,
        secret_access_key: impl Into<String>,
    ) -> Result<Self> {
        let (id, secret) = (access_key_id.into(), secret_access_key.into());
        check_key_pair(&id, &secret)?;
        Ok(StoredKeys {
            access_key_id: id,
            secret_access_key: secret,
            creating: None,
            pending: None,
            retired: None,
        })
    }

    /// The access key id.
    #[must_use]
    pub fn access_key_id(&self) -> &str {
        &self.access_key_id
    }

    /// The access key id for people and logs: `AKIA***WXYZ`.
    #[must_use]
    pub fn masked_access_key_id(&self) -> String {
        crate::mask::mask_access_key_id(&self.access_key_id)
    }

    /// The keys as the SDK's credentials (no session token, no expiry).
    #[must_use]
    pub fn credentials(&self) -> Credentials {
        Credentials::new(
            &self.access_key_id,
            &self.secret_access_key,
            None,
            None,
            PROVIDER_NAME,
        )
    }

    /// The id of a key an unfinished rotation made and has not yet proven
    /// working (the next rotation finishes or deletes it).
    #[must_use]
    pub fn pending_access_key_id(&self) -> Option<&str> {
        self.pending.as_ref().map(|(id, _)| id.as_str())
    }

    /// The id of the key an unfinished rotation replaced and has not yet
    /// deleted at IAM (the next rotation deletes it).
    #[must_use]
    pub fn retired_access_key_id(&self) -> Option<&str> {
        self.retired.as_deref()
    }

    pub(crate) fn pending_credentials(&self) -> Option<Credentials> {
        self.pending
            .as_ref()
            .map(|(id, secret)| Credentials::new(id, secret, None, None, PROVIDER_NAME))
    }

    /// The key ids the user had at IAM before a rotation asked for a new
    /// key, when one was asked for and not yet stored.
    #[must_use]
    pub fn creating_after(&self) -> Option<&[String]> {
        self.creating.as_ref().map(|(_, before)| before.as_slice())
    }

    /// When that rotation asked for the new key.
    pub(crate) fn creating_at(&self) -> Option<std::time::SystemTime> {
        let (at, _) = self.creating.as_ref()?;
        std::time::UNIX_EPOCH.checked_add(std::time::Duration::from_secs(*at))
    }

    /// These keys, about to ask IAM for a new key now, while the user has
    /// `before`.
    pub(crate) fn with_creating(&self, before: Vec<String>) -> Self {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        StoredKeys {
            creating: Some((now, before)),
            ..self.clone()
        }
    }

    /// These keys with `new` made and not yet proven.
    pub(crate) fn with_pending(&self, new: &Credentials) -> Self {
        StoredKeys {
            creating: None,
            pending: Some((
                new.access_key_id().to_owned(),
                new.secret_access_key().to_owned(),
            )),
            ..self.clone()
        }
    }

    /// `new` as the keys, with these keys' id to delete at IAM.
    pub(crate) fn promoted(&self, new: &Credentials) -> Self {
        StoredKeys {
            access_key_id: new.access_key_id().to_owned(),
            secret_access_key: new.secret_access_key().to_owned(),
            creating: None,
            pending: None,
            retired: Some(self.access_key_id.clone()),
        }
    }

    /// These keys with no rotation left to finish.
    pub(crate) fn settled(&self) -> Self {
        StoredKeys {
            creating: None,
            pending: None,
            retired: None,
            ..self.clone()
        }
    }

    pub(crate) fn to_json(&self) -> String {
        use aws_smithy_json::serialize::JsonObjectWriter;
        let mut out = String::new();
        let mut object = JsonObjectWriter::new(&mut out);
        object
            .key("Version")
            .number(aws_smithy_types::Number::PosInt(1));
        object.key("AccessKeyId").string(&self.access_key_id);
        object
            .key("SecretAccessKey")
            .string(&self.secret_access_key);
        if let Some((at, before)) = &self.creating {
            object.key("CreatingAt").string(&at.to_string());
            object.key("CreatingAfter").string(&before.join(","));
        }
        if let Some((id, secret)) = &self.pending {
            object.key("PendingAccessKeyId").string(id);
            object.key("PendingSecretAccessKey").string(secret);
        }
        if let Some(id) = &self.retired {
            object.key("RetiredAccessKeyId").string(id);
        }
        object.finish();
        out
    }

    /// Parses what [`to_json`](Self::to_json) wrote. The error says what
    /// is wrong, never the text.
    pub(crate) fn from_json(text: &str) -> std::result::Result<Self, String> {
        use aws_smithy_json::deserialize::{Token, json_token_iter};
        let mut tokens = json_token_iter(text.as_bytes());
        if !matches!(
            tokens.next().transpose().map_err(bad)?,
            Some(Token::StartObject { .. })
        ) {
            return Err("not a JSON object".to_owned());
        }
        let mut fields: HashMap<String, String> = HashMap::new();
        let mut version = None;
        loop {
            let key = match tokens.next().transpose().map_err(bad)? {
                Some(Token::EndObject { .. }) => break,
                Some(Token::ObjectKey { key, .. }) => key.to_unescaped().map_err(bad)?.into_owned(),
                _ => return Err("malformed object".to_owned()),
            };
            match (key.as_str(), tokens.next().transpose().map_err(bad)?) {
                ("Version", Some(Token::ValueNumber { value, .. })) => version = Some(value),
                (_, Some(Token::ValueString { value, .. })) => {
                    let value = value.to_unescaped().map_err(bad)?.into_owned();
                    if fields.insert(key.clone(), value).is_some() {
                        return Err(format!("`{key}` twice"));
                    }
                }
                _ => return Err(format!("`{key}` is not a string")),
            }
        }
        if version != Some(aws_smithy_types::Number::PosInt(1)) {
            return Err("not version 1".to_owned());
        }
        let mut take = |k: &str| fields.remove(k);
        let (Some(id), Some(secret)) = (take("AccessKeyId"), take("SecretAccessKey")) else {
            return Err("no `AccessKeyId` or `SecretAccessKey`".to_owned());
        };
        let pending = match (take("PendingAccessKeyId"), take("PendingSecretAccessKey")) {
            (Some(id), Some(secret)) => Some((id, secret)),
            (None, None) => None,
            _ => return Err("half a pending key".to_owned()),
        };
        let retired = take("RetiredAccessKeyId");
        let creating = match (take("CreatingAt"), take("CreatingAfter")) {
            (Some(at), Some(ids)) => Some((
                at.parse::<u64>()
                    .ok()
                    .filter(|at| *at <= 1 << 40)
                    .ok_or_else(|| "`CreatingAt` is not a time in seconds".to_owned())?,
                ids.split(',')
                    .filter(|i| !i.is_empty())
                    .map(str::to_owned)
                    .collect(),
            )),
            (None, None) => None,
            _ => return Err("half a creating note".to_owned()),
        };
        if let Some(k) = fields.keys().next() {
            return Err(format!("unknown field `{k}`"));
        }
        check_key_pair(&id, &secret).map_err(|e| e.to_string())?;
        Ok(StoredKeys {
            access_key_id: id,
            secret_access_key: secret,
            creating,
            pending,
            retired,
        })
    }
}

/// The one error text of unreadable JSON: the text holds a secret.
fn bad<E>(_: E) -> String {
    "not JSON".to_owned()
}

fn check_key_pair(id: &str, secret: &str) -> Result<()> {
    if !(16..=128).contains(&id.len()) || !id.bytes().all(|b| b.is_ascii_alphanumeric()) {
        // Not repeated: two lines given in the wrong order put the secret
        // here.
        return Err(Error::invalid(
            Input::AccessKeyId,
            format!("<{} characters>", id.chars().count()),
            "an access key id is 16 to 128 letters and digits",
        ));
    }
    if secret.is_empty() || secret.len() > 256 || !secret.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(Error::invalid(
            Input::SecretAccessKey,
            "<redacted>",
            "a secret access key is 1 to 256 visible ASCII characters",
        ));
    }
    Ok(())
}
