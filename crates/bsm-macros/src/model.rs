//! services.toml into typed structs, keeping where each value stood so that
//! errors can name `services.toml:LINE:COL`.

use std::ops::Range;

use toml::Spanned;
use toml::de::{DeTable, DeValue};

/// One `[[service]]` entry.
#[derive(Debug, Clone)]
pub struct Service {
    /// `aws-sdk-s3`
    pub krate: Field,
    /// `s3`
    pub feature: Field,
    /// `s3_client`
    pub accessor: Field,
    /// `aws_sdk_s3`
    pub path: Field,
    /// AWS no longer updates the service.
    pub retired: bool,
    /// Optional hand-kept name for the docs.
    pub display_name: Option<String>,
    /// Optional hand-kept sentence for the docs.
    pub note: Option<String>,
}

/// A string value and where it stood.
#[derive(Debug, Clone)]
pub struct Field {
    pub value: String,
    pub span: Range<usize>,
}

/// A problem found in services.toml, at a byte range of the file.
#[derive(Debug)]
pub struct Problem {
    pub span: Range<usize>,
    pub message: String,
}

const KNOWN_KEYS: &[&str] = &[
    "crate",
    "feature",
    "accessor",
    "path",
    "retired",
    "display_name",
    "note",
];

/// Parses the file. Entries with problems are left out of the result and
/// reported; the rest are returned so the caller can still emit them.
pub fn parse(text: &str) -> (Vec<Service>, Vec<Problem>) {
    let mut problems = Vec::new();
    let root = match DeTable::parse(text) {
        Ok(root) => root,
        Err(e) => {
            problems.push(Problem {
                span: e.span().unwrap_or(0..0),
                message: format!("TOML syntax error: {}", e.message().trim()),
            });
            return (Vec::new(), problems);
        }
    };
    let mut services = Vec::new();
    for (key, value) in root.get_ref() {
        if key.get_ref() != "service" {
            problems.push(Problem {
                span: key.span(),
                message: format!(
                    "unknown top-level key `{}`; expected `[[service]]`",
                    key.get_ref()
                ),
            });
            continue;
        }
        let DeValue::Array(items) = value.get_ref() else {
            problems.push(Problem {
                span: value.span(),
                message: "`service` must be an array of tables (`[[service]]`)".to_owned(),
            });
            continue;
        };
        for item in items {
            if let Some(service) = parse_entry(item, &mut problems) {
                services.push(service);
            }
        }
    }
    (services, problems)
}

fn parse_entry(item: &Spanned<DeValue<'_>>, problems: &mut Vec<Problem>) -> Option<Service> {
    let DeValue::Table(table) = item.get_ref() else {
        problems.push(Problem {
            span: item.span(),
            message: "each `service` must be a table".to_owned(),
        });
        return None;
    };
    let before = problems.len();
    for (key, _) in table {
        if !KNOWN_KEYS.contains(&key.get_ref().as_ref()) {
            problems.push(Problem {
                span: key.span(),
                message: format!(
                    "unknown field `{}`; known fields: {}",
                    key.get_ref(),
                    KNOWN_KEYS.join(", ")
                ),
            });
        }
    }
    let mut required = |name: &str| -> Option<Field> {
        let Some(v) = table.get(name) else {
            problems.push(Problem {
                span: item.span(),
                message: format!("missing field `{name}` in this `[[service]]`"),
            });
            return None;
        };
        if let DeValue::String(s) = v.get_ref() {
            Some(Field {
                value: s.to_string(),
                span: v.span(),
            })
        } else {
            problems.push(Problem {
                span: v.span(),
                message: format!("`{name}` must be a string"),
            });
            None
        }
    };
    let krate = required("crate");
    let feature = required("feature");
    let accessor = required("accessor");
    let path = required("path");
    let retired = match table.get("retired").map(Spanned::get_ref) {
        None => false,
        Some(DeValue::Boolean(b)) => *b,
        Some(_) => {
            let span = table.get("retired").map_or(item.span(), Spanned::span);
            problems.push(Problem {
                span,
                message: "`retired` must be true or false".to_owned(),
            });
            false
        }
    };
    let mut optional = |name: &str| -> Option<String> {
        let v = table.get(name)?;
        if let DeValue::String(s) = v.get_ref() {
            Some(s.to_string())
        } else {
            problems.push(Problem {
                span: v.span(),
                message: format!("`{name}` must be a string"),
            });
            None
        }
    };
    let display_name = optional("display_name");
    let note = optional("note");
    if problems.len() > before {
        return None;
    }
    Some(Service {
        krate: krate?,
        feature: feature?,
        accessor: accessor?,
        path: path?,
        retired,
        display_name,
        note,
    })
}

/// `LINE:COL` (1-based) of a byte offset.
pub fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let offset = offset.min(text.len());
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let col = before.rfind('\n').map_or(offset, |nl| offset - nl - 1) + 1;
    (line, col)
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = "[[service]]\ncrate = \"aws-sdk-s3\"\nfeature = \"s3\"\naccessor = \"s3_client\"\npath = \"aws_sdk_s3\"\n";

    #[test]
    fn parses_an_entry() {
        let (services, problems) = parse(GOOD);
        assert!(problems.is_empty(), "{problems:?}");
        assert_eq!(services.len(), 1);
        assert_eq!(services[0].accessor.value, "s3_client");
        assert!(!services[0].retired);
    }

    #[test]
    fn reports_missing_and_unknown_fields() {
        let text = "[[service]]\ncrate = \"aws-sdk-s3\"\nfeeture = \"s3\"\naccessor = \"s3_client\"\npath = \"aws_sdk_s3\"\n";
        let (services, problems) = parse(text);
        assert!(services.is_empty());
        let messages: Vec<_> = problems.iter().map(|p| p.message.as_str()).collect();
        assert!(
            messages
                .iter()
                .any(|m| m.starts_with("unknown field `feeture`")),
            "{messages:?}"
        );
        assert!(
            messages
                .iter()
                .any(|m| m.starts_with("missing field `feature`")),
            "{messages:?}"
        );
    }

    #[test]
    fn syntax_errors_have_a_position() {
        let (_, problems) = parse("[[service]]\ncrate = \n");
        assert_eq!(problems.len(), 1);
        assert_eq!(
            line_col("[[service]]\ncrate = \n", problems[0].span.start).0,
            2
        );
    }

    #[test]
    fn line_col_is_one_based() {
        assert_eq!(line_col("ab\ncd", 0), (1, 1));
        assert_eq!(line_col("ab\ncd", 4), (2, 2));
    }
}
