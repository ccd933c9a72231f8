//! Reading raw variables: empty means unset, numbers and booleans parsed with errors that say
//! what was expected.

use std::collections::BTreeMap;
use std::fmt;
use std::ops::RangeInclusive;
use std::str::FromStr;
use std::time::Duration;

use url::Url;

/// A snapshot of environment variables (empty values count as unset).
#[derive(Debug, Clone, Default)]
pub struct Vars(BTreeMap<String, String>);

impl Vars {
    /// The current process environment.
    pub fn from_env() -> Self {
        std::env::vars().collect()
    }

    /// The value of `key`, trimmed, or `None` when unset or blank.
    pub fn get(&self, key: &str) -> Option<String> {
        self.0.get(key).map(|v| v.trim()).filter(|v| !v.is_empty()).map(str::to_owned)
    }

    pub(super) fn number<T>(&self, errs: &mut ConfigErrors, key: &str, default: T, range: RangeInclusive<T>) -> T
    where
        T: FromStr + PartialOrd + Copy + fmt::Display,
    {
        match self.get(key) {
            None => default,
            Some(raw) => match raw.parse::<T>() {
                Ok(v) if range.contains(&v) => v,
                _ => {
                    errs.push(key, format!("'{raw}' is not a whole number from {} to {}", range.start(), range.end()));
                    default
                }
            },
        }
    }

    pub(super) fn optional_number<T>(&self, errs: &mut ConfigErrors, key: &str, range: RangeInclusive<T>) -> Option<T>
    where
        T: FromStr + PartialOrd + Copy + fmt::Display,
    {
        self.get(key)?;
        Some(self.number(errs, key, *range.start(), range))
    }

    pub(super) fn millis(&self, errs: &mut ConfigErrors, key: &str, default_ms: u64) -> Duration {
        Duration::from_millis(self.number(errs, key, default_ms, 0..=86_400_000))
    }

    pub(super) fn boolean(&self, errs: &mut ConfigErrors, key: &str, default: bool) -> bool {
        match self.get(key).map(|v| v.to_ascii_lowercase()).as_deref() {
            None => default,
            Some("true" | "1" | "yes") => true,
            Some("false" | "0" | "no") => false,
            Some(other) => {
                errs.push(key, format!("'{other}' is not a boolean; use true or false"));
                default
            }
        }
    }

    pub(super) fn url(&self, errs: &mut ConfigErrors, key: &str, default: &str) -> Url {
        let fallback = || Url::parse(default).unwrap_or_else(|_| Url::parse("http://127.0.0.1/").expect("valid"));
        match self.get(key) {
            None => fallback(),
            Some(raw) => match Url::parse(&raw) {
                Ok(u) if u.scheme() == "http" || u.scheme() == "https" => u,
                _ => {
                    errs.push(key, format!("'{raw}' is not an http(s) URL, e.g. {default}"));
                    fallback()
                }
            },
        }
    }

    pub(super) fn list(&self, key: &str) -> Vec<String> {
        self.get(key)
            .map(|v| v.split(',').map(str::trim).filter(|s| !s.is_empty()).map(str::to_owned).collect())
            .unwrap_or_default()
    }
}

impl<K: Into<String>, V: Into<String>> FromIterator<(K, V)> for Vars {
    fn from_iter<I: IntoIterator<Item = (K, V)>>(iter: I) -> Self {
        Vars(iter.into_iter().map(|(k, v)| (k.into(), v.into())).collect())
    }
}

/// One invalid or missing variable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    pub variable: String,
    pub message: String,
}

/// Every configuration problem found, reported together.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ConfigErrors(pub Vec<ConfigError>);

impl ConfigErrors {
    pub(super) fn push(&mut self, variable: &str, message: impl Into<String>) {
        self.0.push(ConfigError { variable: variable.to_owned(), message: message.into() });
    }

    pub(super) fn into_result<T>(self, value: T) -> Result<T, ConfigErrors> {
        if self.0.is_empty() {
            Ok(value)
        } else {
            Err(self)
        }
    }

    /// Whether a problem names `variable`.
    pub fn mentions(&self, variable: &str) -> bool {
        self.0.iter().any(|e| e.variable == variable)
    }
}

impl fmt::Display for ConfigErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "invalid configuration ({} problem(s)):", self.0.len())?;
        for e in &self.0 {
            writeln!(f, "  - {}: {}", e.variable, e.message)?;
        }
        write!(f, "See .env.example for every variable and its default.")
    }
}

impl std::error::Error for ConfigErrors {}
