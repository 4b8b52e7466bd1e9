//! The rule for passwords an operator gives the command line (`users create
//! --password-stdin`, `users password`): at least [`MIN_PASSWORD_CHARS`]
//! characters, not a well-known password, not the login, not one character
//! repeated. A password signs in over HTTP Basic, where anyone who can reach
//! the server can guess; the sign-in throttle slows guessing, and this rule
//! keeps the first guesses of any word list from working.
//!
//! The list is small on purpose (a few hundred entries, embedded in the
//! binary): only well-known passwords of 12 or more characters matter, since
//! shorter ones are refused by length. A strength estimator such as zxcvbn
//! would catch more, at the cost of a large dependency and its dictionaries
//! in every build; the list and the length rule cover what attackers try
//! first. Its source and licences are in the file's header lines.

/// The fewest characters (Unicode scalar values) a password may have.
pub const MIN_PASSWORD_CHARS: usize = 12;

/// Well-known passwords of 12+ characters, lowercased, one a line; lines
/// starting with "#" are notes (no entry starts with one) (sources and licences: Django's
/// common-passwords list, BSD 3-Clause, and zxcvbn's password list, MIT).
const WELL_KNOWN: &str = include_str!("common-passwords.txt");

/// Why `password` is refused for the user `login`, in one line for an
/// operator. The message never repeats the password.
pub fn check_password(login: &str, password: &str) -> Result<(), String> {
    let chars = password.chars().count();
    if chars < MIN_PASSWORD_CHARS {
        return Err(format!(
            "the password is too short: it needs at least {MIN_PASSWORD_CHARS} characters"
        ));
    }
    let mut all = password.chars();
    if let Some(first) = all.next()
        && all.all(|c| c == first)
    {
        return Err("the password must not be one character repeated".into());
    }
    if password.to_lowercase() == login.to_lowercase() {
        return Err("the password must not be the login".into());
    }
    if is_well_known(password) {
        return Err("the password is a well-known password (it is on the list of common passwords attackers try first); choose another".into());
    }
    Ok(())
}

/// Whether `password` is on the embedded list, ignoring case.
pub fn is_well_known(password: &str) -> bool {
    let lowered = password.to_lowercase();
    well_known().any(|known| known == lowered)
}

fn well_known() -> impl Iterator<Item = &'static str> {
    WELL_KNOWN
        .lines()
        .filter(|line| !line.is_empty() && !line.starts_with('#'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_list_holds_only_long_lowercase_entries() {
        let entries: Vec<&str> = well_known().collect();
        assert!(entries.len() > 300, "{}", entries.len());
        for e in &entries {
            assert!(e.chars().count() >= MIN_PASSWORD_CHARS, "{e}");
            assert_eq!(*e, e.to_lowercase(), "{e}");
            assert_eq!(*e, e.trim(), "{e:?}");
        }
    }

    #[test]
    fn long_unusual_passwords_pass() {
        for ok in [
            "correct horse battery staple",
            "Sup3rSecretPw",
            "tr0ub4dor&3xyz",
            "aaaaaaaaaaab",
            "Grüße aus Köln!",
        ] {
            assert_eq!(check_password("alice", ok), Ok(()), "{ok}");
        }
    }

    #[test]
    fn short_passwords_are_refused_by_characters_not_bytes() {
        assert!(check_password("alice", "").is_err());
        assert!(
            check_password("alice", "Xy7!kq9#Lm2")
                .unwrap_err()
                .contains("at least 12")
        );
        // Eleven characters of two bytes each: 22 bytes, still too short.
        let eleven = format!("{}é", "éü".repeat(5));
        assert_eq!((eleven.chars().count(), eleven.len()), (11, 22));
        assert!(check_password("alice", &eleven).is_err());
        assert!(check_password("alice", "Xy7!kq9#Lm2p").is_ok());
    }

    #[test]
    fn well_known_passwords_are_refused_in_any_case() {
        for bad in [
            "qwerty123456",
            "QWERTY123456",
            "1q2w3e4r5t6y",
            "Password1234",
            "JustinBieber",
        ] {
            let why = check_password("alice", bad).unwrap_err();
            assert!(why.contains("well-known"), "{bad}: {why}");
            assert!(!why.contains(bad), "the message never repeats the password");
        }
    }

    #[test]
    fn the_login_and_repeated_characters_are_refused() {
        assert!(
            check_password("alice.liddell", "Alice.Liddell")
                .unwrap_err()
                .contains("the login")
        );
        for bad in ["aaaaaaaaaaaa", "            ", "ééééééééééééé"] {
            assert!(
                check_password("alice", bad)
                    .unwrap_err()
                    .contains("one character repeated"),
                "{bad:?}"
            );
        }
    }
}
