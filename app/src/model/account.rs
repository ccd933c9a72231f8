//! Validation of sign-up and sign-in input: pure functions, so both the server and tests use
//! exactly the same rules. Messages name the field and say what to do.

use super::error::AppError;

pub const MIN_PASSWORD_LEN: usize = 10;
pub const MAX_PASSWORD_LEN: usize = 128;
pub const MAX_NAME_LEN: usize = 100;
pub const MAX_EMAIL_LEN: usize = 254;

/// Sign-up input that passed validation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewAccount {
    pub name: String,
    pub email: String,
    pub password: String,
}

/// Checks the sign-up form. The email is trimmed and lower-cased.
pub fn validate_sign_up(name: &str, email: &str, password: &str, confirm: &str) -> Result<NewAccount, AppError> {
    let name = name.trim();
    if name.is_empty() {
        return Err(AppError::invalid("name", "Enter your name."));
    }
    if name.chars().count() > MAX_NAME_LEN {
        return Err(AppError::invalid("name", format!("Your name can be at most {MAX_NAME_LEN} characters.")));
    }
    if name.chars().any(char::is_control) {
        return Err(AppError::invalid("name", "Your name cannot contain control characters."));
    }
    let email = normalize_email(email)?;
    validate_password(password)?;
    if password != confirm {
        return Err(AppError::invalid("confirm_password", "The two passwords do not match."));
    }
    Ok(NewAccount { name: name.to_owned(), email, password: password.to_owned() })
}

/// Trims, lower-cases and checks the shape of an email address.
pub fn normalize_email(email: &str) -> Result<String, AppError> {
    let email = email.trim().to_lowercase();
    if email.is_empty() {
        return Err(AppError::invalid("email", "Enter your email address."));
    }
    let valid = email.len() <= MAX_EMAIL_LEN
        && !email.chars().any(|c| c.is_whitespace() || c.is_control())
        && match email.split_once('@') {
            Some((local, domain)) => {
                !local.is_empty()
                    && !domain.contains('@')
                    && domain.contains('.')
                    && !domain.starts_with('.')
                    && !domain.ends_with('.')
                    && !domain.contains("..")
            }
            None => false,
        };
    if valid {
        Ok(email)
    } else {
        Err(AppError::invalid("email", "Enter a valid email address, like name@example.com."))
    }
}

/// Checks password length.
pub fn validate_password(password: &str) -> Result<(), AppError> {
    let n = password.chars().count();
    if n < MIN_PASSWORD_LEN {
        return Err(AppError::invalid(
            "password",
            format!("Use a password of at least {MIN_PASSWORD_LEN} characters."),
        ));
    }
    if n > MAX_PASSWORD_LEN {
        return Err(AppError::invalid("password", format!("Use a password of at most {MAX_PASSWORD_LEN} characters.")));
    }
    Ok(())
}

/// Where to go after signing in: only a path on this site, never another site.
///
/// `next` travels through a query string and a form, so it may arrive percent-encoded; the
/// raw value and its decodings are all checked. Anything doubtful falls back to `/`.
pub fn safe_next(next: Option<&str>) -> String {
    match next {
        Some(n) if is_same_origin_path(n) => n.to_owned(),
        _ => "/".to_owned(),
    }
}

/// Whether `next` is a same-origin path: one leading `/` (not `//`), no backslash, no
/// whitespace or control character, printable ASCII only (it goes into a `Location` header),
/// also after percent-decoding (browsers drop tabs and newlines, so `/\t/evil.com` would
/// become `//evil.com`), and not an `/auth/` page.
pub fn is_same_origin_path(next: &str) -> bool {
    const MAX_LEN: usize = 2048;
    if next.len() > MAX_LEN || !next.bytes().all(|b| b.is_ascii_graphic()) {
        return false;
    }
    let mut current = next.to_owned();
    // Decode until stable (at most a few rounds), checking every form.
    for _ in 0..4 {
        if !current.starts_with('/')
            || current.starts_with("//")
            || current.contains('\\')
            || current.chars().any(|c| c.is_control() || c.is_whitespace())
            || current.starts_with("/auth/")
        {
            return false;
        }
        let decoded = percent_decode(&current);
        if decoded == current {
            return true;
        }
        current = decoded;
    }
    false
}

/// Percent-decodes `s` (invalid UTF-8 becomes U+FFFD).
fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            if let (Some(h), Some(l)) = (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                out.push((h * 16 + l) as u8);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field(r: Result<NewAccount, AppError>) -> String {
        r.unwrap_err().field().unwrap().to_owned()
    }

    #[test]
    fn a_good_sign_up_is_normalised() {
        let a = validate_sign_up("  Ada Lovelace ", " Ada@Example.COM ", "0123456789", "0123456789").unwrap();
        assert_eq!(a.name, "Ada Lovelace");
        assert_eq!(a.email, "ada@example.com");
    }

    #[test]
    fn each_bad_field_is_named() {
        assert_eq!(field(validate_sign_up("", "a@b.co", "0123456789", "0123456789")), "name");
        assert_eq!(field(validate_sign_up("A", "", "0123456789", "0123456789")), "email");
        assert_eq!(field(validate_sign_up("A", "not-an-email", "0123456789", "0123456789")), "email");
        assert_eq!(field(validate_sign_up("A", "a@b", "0123456789", "0123456789")), "email");
        assert_eq!(field(validate_sign_up("A", "a@@b.co", "0123456789", "0123456789")), "email");
        assert_eq!(field(validate_sign_up("A", "a@b.co", "short", "short")), "password");
        assert_eq!(field(validate_sign_up("A", "a@b.co", "0123456789", "0123456780")), "confirm_password");
        assert_eq!(field(validate_sign_up(&"x".repeat(101), "a@b.co", "0123456789", "0123456789")), "name");
    }

    #[test]
    fn next_only_allows_local_paths() {
        assert_eq!(safe_next(Some("/bots?page=2")), "/bots?page=2");
        assert_eq!(safe_next(Some("//evil.com")), "/");
        assert_eq!(safe_next(Some("https://evil.com")), "/");
        assert_eq!(safe_next(Some("/auth/sign-in")), "/");
        assert_eq!(safe_next(None), "/");
    }

    #[test]
    fn next_refuses_every_way_out_of_this_site() {
        for bad in [
            "/\t/evil.com",
            "/\n/evil.com",
            "/%0A",
            "/bots%0d%0aSet-Cookie:x=1",
            "/%09/evil.com",
            "/%2F/evil.com",
            "/%2f%2fevil.com",
            "/%5Cevil.com",
            "/\\evil.com",
            "\\\\evil.com",
            "/%252F/evil.com",
            "/ bots",
            "/bots\u{0}",
            "/bóts",
            "",
            "bots",
            "javascript:alert(1)",
            "/%2Fauth/sign-in",
        ] {
            assert_eq!(safe_next(Some(bad)), "/", "{bad:?} must be refused");
        }
        assert_eq!(safe_next(Some(&format!("/{}", "a".repeat(3000)))), "/");
    }

    #[test]
    fn next_keeps_ordinary_local_paths() {
        for good in ["/", "/bots", "/bots/12", "/bots?page=2&size=50", "/bots%3Fpage%3D2", "/templates#x"] {
            assert_eq!(safe_next(Some(good)), good);
        }
    }
}
