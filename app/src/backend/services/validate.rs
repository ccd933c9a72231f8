//! What PostgreSQL refuses in text, checked before it gets there: the NUL character (U+0000)
//! is rejected by `text`/`varchar` columns and, as the `\u0000` escape, by `jsonb`. Every input
//! from a user or an API key that is stored (or used in a query) goes through these, so the
//! answer is a 422 naming the field instead of a 500.
//!
//! Rust strings are always valid UTF-8 and JSON parsing already refuses lone surrogates, so NUL
//! is the one character left to refuse.

use serde::Serialize;
use serde_json::Value;

use crate::model::error::AppError;

fn refused(field: &str, path: &str) -> AppError {
    AppError::invalid(field, format!("{path} must not contain the NUL character (\\u0000)"))
}

/// Refuses a NUL in a text field.
pub fn text(field: &str, value: &str) -> Result<(), AppError> {
    if value.contains('\0') {
        Err(refused(field, field))
    } else {
        Ok(())
    }
}

/// Refuses a NUL in any string (or object key) inside a JSON value; the message gives the path
/// (`messages[2]`, `meeting.meetingId`).
pub fn json(field: &str, value: &Value) -> Result<(), AppError> {
    match nul_path(value, field.to_owned()) {
        Some(path) => Err(refused(field, &path)),
        None => Ok(()),
    }
}

/// Refuses a NUL anywhere in a request DTO; the field named is the top-level (camelCase) one.
pub fn input<T: Serialize>(value: &T) -> Result<(), AppError> {
    match serde_json::to_value(value) {
        Ok(Value::Object(fields)) => fields.iter().try_for_each(|(k, v)| json(k, v)),
        Ok(other) => json("input", &other),
        // Serialising a plain DTO cannot fail; there is nothing to check then either.
        Err(_) => Ok(()),
    }
}

fn nul_path(value: &Value, path: String) -> Option<String> {
    match value {
        Value::String(s) if s.contains('\0') => Some(path),
        Value::Array(items) => items.iter().enumerate().find_map(|(i, v)| nul_path(v, format!("{path}[{i}]"))),
        Value::Object(map) => map.iter().find_map(|(k, v)| {
            let here = format!("{path}.{}", k.replace('\0', "\\u0000"));
            if k.contains('\0') {
                Some(here)
            } else {
                nul_path(v, here)
            }
        }),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn nul_is_refused_in_text_with_the_field_named() {
        assert!(text("name", "Ada Lovelace ✓").is_ok());
        let e = text("name", "Ada\0").unwrap_err();
        assert_eq!((e.field(), e.status()), (Some("name"), 422));
    }

    #[test]
    fn nul_is_found_anywhere_in_json() {
        assert!(json("meeting", &json!({ "a": ["x", { "b": "y" }], "n": 1 })).is_ok());
        let e = json("messages", &json!(["ok", "bad\u{0}"])).unwrap_err();
        assert_eq!(e.field(), Some("messages"));
        assert!(e.to_string().contains("messages[1]"), "{e}");
        let e = json("meeting", &json!({ "a": { "b\u{0}": 1 } })).unwrap_err();
        assert!(e.to_string().starts_with("meeting.a.b\\u0000"), "{e}");
    }

    #[test]
    fn a_dto_is_checked_field_by_field() {
        #[derive(Serialize)]
        #[serde(rename_all = "camelCase")]
        struct Dto {
            template_name: String,
            messages: Vec<String>,
        }
        assert!(input(&Dto { template_name: "t".into(), messages: vec!["m".into()] }).is_ok());
        let e = input(&Dto { template_name: "t".into(), messages: vec!["m".into(), "\0".into()] }).unwrap_err();
        assert_eq!(e.field(), Some("messages"));
        let e = input(&Dto { template_name: "\0".into(), messages: vec![] }).unwrap_err();
        assert_eq!(e.field(), Some("templateName"));
    }
}
