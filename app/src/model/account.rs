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

/// Where to go after signing in: only local paths, never another site.
pub fn safe_next(next: Option<&str>) -> String {
    match next {
        Some(n) if n.starts_with('/') && !n.starts_with("//") && !n.contains('\\') && !n.starts_with("/auth/") => {
            n.to_owned()
        }
        _ => "/".to_owned(),
    }
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
}
