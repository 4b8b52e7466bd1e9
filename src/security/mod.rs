//! Secrets and guessing: tokens and password hashes (`credentials`), the
//! threads that check passwords, failed sign-ins (`lockout`) and request
//! rates (`throttle`).

pub mod credentials;
pub mod expiring;
pub mod lockout;
pub mod password_checkers;
pub mod throttle;
