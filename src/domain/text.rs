//! The rules for text that people type and other people read: logins, user
//! and group names, descriptions, email addresses. One place, used by the
//! API, the managers' page, the command line and the import, so every way in
//! refuses the same things with the same words, on both backends.
//!
//! Why these rules:
//! - NUL reaches PostgreSQL as an error (it cannot store it) while SQLite
//!   stores it: refusing it first keeps the backends alike.
//! - Other C0 and C1 controls (escape sequences) and the bidirectional
//!   embeddings, overrides and isolates make a name print as something it
//!   is not, on a terminal or a page.
//! - Lengths are bounded in characters (what a person sees) and in bytes
//!   (what a response repeats in every row of a list): stored text is copied
//!   into every membership of a list with `include=user_groups`.

/// Logins: at most this many characters of `[A-Za-z0-9._@+-]`.
pub const MAX_LOGIN_CHARS: usize = 64;

/// The most a user's or group's name may hold.
pub const MAX_NAME_CHARS: usize = 255;
pub const MAX_NAME_BYTES: usize = 512;

/// The most a group's description may hold.
pub const MAX_DESCRIPTION_CHARS: usize = 2000;
pub const MAX_DESCRIPTION_BYTES: usize = 4096;

/// The most an email address may hold (RFC 5321's path limit).
pub const MAX_EMAIL_BYTES: usize = 254;

/// Whether `login` can be a login at all. A Basic user name of 64 hex
/// digits is an API token sent Highrise style, never a login, so logins of
/// that shape are refused too: the two can then never be confused.
fn is_login(login: &str) -> bool {
    !login.is_empty()
        && login.len() <= MAX_LOGIN_CHARS
        && login
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'@' | b'+' | b'-'))
        && !looks_like_token(login)
}

/// 64 hex digits: the shape of the API tokens syncd issues.
pub fn looks_like_token(text: &str) -> bool {
    text.len() == 64 && text.bytes().all(|b| b.is_ascii_hexdigit())
}

/// Why a login is refused, in words for a person.
pub fn check_login(login: &str) -> Result<(), String> {
    if is_login(login) {
        return Ok(());
    }
    if looks_like_token(login) {
        return Err("Login must not be 64 hex digits (that is the shape of an API token).".into());
    }
    Err(format!(
        "Login must be 1 to {MAX_LOGIN_CHARS} letters, digits and . _ @ + - (got \"{}\").",
        printable(&login.chars().take(MAX_LOGIN_CHARS + 1).collect::<String>())
    ))
}

/// A login that follows the rule ([`check_login`]): made by [`Login::parse`]
/// only, so holding one means it was checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Login(String);

impl Login {
    pub fn parse(text: &str) -> Result<Login, String> {
        check_login(text)?;
        Ok(Login(text.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A user group's name, trimmed, that follows [`check_name`]: made by
/// [`GroupName::parse`] only.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupName(String);

impl GroupName {
    pub fn parse(text: &str) -> Result<GroupName, String> {
        let name = text.trim();
        check_name("Name", name)?;
        Ok(GroupName(name.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A user's or a group's name: not blank, bounded, one line of visible text.
/// `field` is the word the message uses ("Name").
pub fn check_name(field: &str, name: &str) -> Result<(), String> {
    if name.trim().is_empty() {
        return Err(blank(field));
    }
    check_length(field, name, MAX_NAME_CHARS, MAX_NAME_BYTES)?;
    check_characters(field, name, false)
}

/// The words for a field left empty (or only spaces).
pub fn blank(field: &str) -> String {
    format!("{field} can't be blank.")
}

/// A group's description: bounded; line breaks and tabs allowed.
pub fn check_description(description: &str) -> Result<(), String> {
    check_length(
        "Description",
        description,
        MAX_DESCRIPTION_CHARS,
        MAX_DESCRIPTION_BYTES,
    )?;
    check_characters("Description", description, true)
}

/// An email address: bounded, one line of visible text. Not checked for
/// shape: syncd sends no mail, it keeps what the directory has.
pub fn check_email(email: &str) -> Result<(), String> {
    if email.len() > MAX_EMAIL_BYTES {
        return Err(format!(
            "Email address is too long (at most {MAX_EMAIL_BYTES} bytes)."
        ));
    }
    check_characters("Email address", email, false)
}

fn check_length(field: &str, text: &str, chars: usize, bytes: usize) -> Result<(), String> {
    if text.chars().count() > chars {
        return Err(format!("{field} is too long (at most {chars} characters)."));
    }
    if text.len() > bytes {
        return Err(format!(
            "{field} is too long (at most {bytes} bytes in UTF-8)."
        ));
    }
    Ok(())
}

fn check_characters(field: &str, text: &str, multiline: bool) -> Result<(), String> {
    let bad = text
        .chars()
        .find(|&c| is_forbidden(c) && !(multiline && matches!(c, '\t' | '\n' | '\r')));
    match bad {
        Some(c) => Err(format!(
            "{field} contains the character U+{:04X}: control characters and bidirectional overrides are not allowed.",
            c as u32
        )),
        None => Ok(()),
    }
}

/// C0 and C1 controls, DEL, and the bidirectional embeddings, overrides
/// and isolates (U+202A..U+202E, U+2066..U+2069).
pub fn is_forbidden(c: char) -> bool {
    c.is_control() || matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

/// Text made safe for a terminal: anything forbidden above (tabs and
/// newlines included) is written as a `\u{..}` escape, and a backslash as
/// two, so what is printed can be told apart from what was stored.
pub fn printable(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if c == '\\' {
            out.push_str("\\\\");
        } else if is_forbidden(c) {
            out.push_str(&format!("\\u{{{:x}}}", c as u32));
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn logins_are_short_plain_and_never_token_shaped() {
        for ok in ["alice", "a.b_c@d+e-f", &"x".repeat(64)] {
            assert!(is_login(ok), "{ok}");
        }
        let token = "ab".repeat(32);
        for bad in ["", "a b", "a:b", "a\0b", "ä", &"x".repeat(65), &token] {
            assert!(!is_login(bad), "{bad:?}");
            assert!(check_login(bad).is_err());
        }
        assert!(check_login(&token).unwrap_err().contains("token"));
    }

    #[test]
    fn names_refuse_controls_bidi_and_excess() {
        assert!(check_name("Name", "Editors").is_ok());
        assert!(check_name("Name", "Rédaction 編集").is_ok());
        for bad in [
            "",
            "  ",
            "a\0b",
            "a\u{1b}[31mb",
            "a\u{85}b",
            "a\u{202E}b",
            "a\u{2066}b",
            "a\nb",
            "a\u{7f}",
        ] {
            assert!(check_name("Name", bad).is_err(), "{bad:?}");
        }
        assert!(check_name("Name", &"a".repeat(255)).is_ok());
        assert!(
            check_name("Name", &"a".repeat(256))
                .unwrap_err()
                .contains("255 characters")
        );
        // 200 characters of four bytes each: within the characters, over the bytes.
        assert!(
            check_name("Name", &"𝄞".repeat(200))
                .unwrap_err()
                .contains("512 bytes")
        );
        assert!(check_name("Name", "a\0b").unwrap_err().contains("U+0000"));
    }

    #[test]
    fn descriptions_may_have_lines_but_not_escapes() {
        assert!(check_description("one\ntwo\tthree\r\n").is_ok());
        assert!(check_description("").is_ok());
        assert!(check_description("a\u{1b}]0;x\u{7}").is_err());
        assert!(check_description(&"d".repeat(2001)).is_err());
        assert!(check_email("a@example.com").is_ok());
        assert!(check_email(&format!("{}@x", "a".repeat(260))).is_err());
    }

    #[test]
    fn printable_escapes_what_a_terminal_would_act_on() {
        assert_eq!(printable("plain ü"), "plain ü");
        assert_eq!(printable("a\u{1b}[2Jb"), "a\\u{1b}[2Jb");
        assert_eq!(printable("x\ty\n"), "x\\u{9}y\\u{a}");
        assert_eq!(printable("\u{202E}"), "\\u{202e}");
        assert_eq!(printable("back\\slash"), "back\\\\slash");
    }
}
