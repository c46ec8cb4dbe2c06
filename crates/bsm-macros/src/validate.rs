//! Rules every services.toml entry must meet before code is emitted for it:
//! names are Rust identifiers (cargo feature names for features), follow the
//! naming rule, and are unique.

use std::collections::HashSet;

use crate::model::{Problem, Service};

/// Returns the entries that pass every rule, and a problem for each that does not.
pub fn validate(services: Vec<Service>) -> (Vec<Service>, Vec<Problem>) {
    let mut problems = Vec::new();
    let mut seen: [HashSet<String>; 4] = Default::default();
    let mut variants: HashSet<String> = HashSet::new();
    let mut good = Vec::new();
    for s in services {
        let before = problems.len();
        if !s.krate.value.starts_with("aws-sdk-") {
            problems.push(Problem {
                span: s.krate.span.clone(),
                message: format!("crate `{}` is not an `aws-sdk-*` crate", s.krate.value),
            });
        }
        for (what, field) in [("accessor", &s.accessor), ("path", &s.path)] {
            if !is_ident(&field.value) {
                problems.push(Problem {
                    span: field.span.clone(),
                    message: format!("{what} `{}` is not a Rust identifier", field.value),
                });
            }
        }
        if !is_feature(&s.feature.value) {
            problems.push(Problem {
                span: s.feature.span.clone(),
                message: format!(
                    "feature `{}` is not a valid name (ASCII letters, digits and `_`, starting with a letter)",
                    s.feature.value
                ),
            });
        }
        if s.path.value != s.krate.value.replace('-', "_") {
            problems.push(Problem {
                span: s.path.span.clone(),
                message: format!(
                    "path `{}` does not match crate `{}` (expected `{}`)",
                    s.path.value,
                    s.krate.value,
                    s.krate.value.replace('-', "_")
                ),
            });
        }
        let kinds = ["crate", "feature", "accessor", "path"];
        let fields = [&s.krate, &s.feature, &s.accessor, &s.path];
        for ((set, kind), field) in seen.iter_mut().zip(kinds).zip(fields) {
            if !set.insert(field.value.clone()) {
                problems.push(Problem {
                    span: field.span.clone(),
                    message: format!("duplicate {kind} `{}`", field.value),
                });
            }
        }
        // Distinct features can still give the same enum variant
        // (`foo_bar` and `foo__bar` both give `FooBar`).
        if problems.len() == before && !variants.insert(variant(&s.feature.value)) {
            problems.push(Problem {
                span: s.feature.span.clone(),
                message: format!(
                    "feature `{}` gives the same AwsService variant as an earlier one",
                    s.feature.value
                ),
            });
        }
        if problems.len() == before {
            good.push(s);
        }
    }
    (good, problems)
}

/// The `AwsService` variant of a feature: `costexplorer` -> `Costexplorer`,
/// `foo_bar` -> `FooBar`. (Here rather than in `expand.rs`, so that
/// `cargo xtask regen` shares it without the code generator.)
pub fn variant(feature: &str) -> String {
    let mut name = String::new();
    for part in feature.split('_') {
        let mut chars = part.chars();
        if let Some(first) = chars.next() {
            name.extend(first.to_uppercase());
            name.push_str(chars.as_str());
        }
    }
    name
}

/// A Rust identifier usable without `r#`.
pub fn is_ident(s: &str) -> bool {
    syn::parse_str::<syn::Ident>(s).is_ok()
}

fn is_feature(s: &str) -> bool {
    s.starts_with(|c: char| c.is_ascii_alphabetic())
        && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identifiers() {
        assert!(is_ident("s3_client"));
        assert!(!is_ident("type"));
        assert!(is_ident("lambda_client"));
        assert!(!is_ident("s3-client"));
        assert!(!is_ident("3d"));
        assert!(is_feature("lambda"));
        assert!(!is_feature("s3-x"));
    }
}
