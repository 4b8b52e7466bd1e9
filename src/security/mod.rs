//! Secrets and guessing: tokens, password hashes and the caches of verified
//! ones (`secrets`), the threads that check passwords, failed sign-ins
//! (`lockout`), request rates (`throttle`), and the bounded map with expiry
//! under the caches and the throttle (`expiring`).

pub mod expiring;
pub mod lockout;
pub mod password_checkers;
pub mod secrets;
pub mod throttle;
