//! Password checks (argon2id) on threads of their own, each with its own
//! memory, taken from a short queue.
//!
//! Why not the blocking pool: argon2 needs 19 MiB per check, and the audit
//! found that with checks on the pool that database work shares, 300
//! concurrent sign-ins (unknown logins, no credentials needed) took a fresh
//! server from 14 MiB to 2.86 GiB, never given back (the allocator kept the
//! freed blocks), while a manager's list waited 14 s for a thread. Here:
//! - a fixed number of threads each hold one argon2 memory, allocated once
//!   and reused for every check, so memory is bounded by the thread count;
//! - the queue is short; when it is full a sign-in is answered at once
//!   without hashing ([`Busy`]), so a flood costs nothing but refusals;
//! - database work never waits for a password check.

use std::sync::mpsc::{Receiver, SyncSender, TrySendError};
use std::sync::{Arc, Mutex};

use argon2::password_hash::{Output, PasswordHash};
use argon2::{Algorithm, Argon2, Block, Params, Version};
use tokio::sync::oneshot;

/// Stored hashes needing more memory than this are refused: syncd writes
/// argon2's defaults (19 MiB); a hash from elsewhere with a huge cost would
/// otherwise make every check of it that large.
const MAX_BLOCKS: usize = 64 * 1024;

/// The password checkers: a handle to their queue. The threads end when the
/// last handle goes.
pub struct PasswordCheckers {
    queue: SyncSender<Job>,
}

/// Every checker is busy and the queue is full: answer without checking.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Busy;

struct Job {
    password: String,
    stored: Option<String>,
    reply: oneshot::Sender<bool>,
}

impl PasswordCheckers {
    /// `threads` checkers (each holding about 19 MiB once it has checked a
    /// password) and room for `queued` more sign-ins waiting.
    pub fn start(threads: usize, queued: usize) -> PasswordCheckers {
        let (queue, jobs) = std::sync::mpsc::sync_channel::<Job>(queued);
        let jobs = Arc::new(Mutex::new(jobs));
        for n in 0..threads.max(1) {
            let jobs = jobs.clone();
            let started = std::thread::Builder::new()
                .name(format!("syncd-password-{n}"))
                .spawn(move || check_until_closed(&jobs));
            // Without a thread the queue fills and sign-ins answer 503;
            // tokens keep working.
            if let Err(e) = started {
                log::error!("cannot start a password checker: {e}");
            }
        }
        PasswordCheckers { queue }
    }

    /// Whether `password` matches the `stored` PHC hash. With no stored hash
    /// (an unknown login, or a user without a password) the same work is
    /// done against a dummy, so the time taken does not tell whether the
    /// login exists; the answer is then false.
    pub async fn check(&self, password: String, stored: Option<String>) -> Result<bool, Busy> {
        let (reply, answer) = oneshot::channel();
        let job = Job {
            password,
            stored,
            reply,
        };
        match self.queue.try_send(job) {
            Ok(()) => {}
            Err(TrySendError::Full(_)) => return Err(Busy),
            Err(TrySendError::Disconnected(_)) => {
                log::error!("the password checkers have stopped");
                return Err(Busy);
            }
        }
        // A checker that panicked drops the reply: a failed check.
        Ok(answer.await.unwrap_or(false))
    }
}

fn check_until_closed(jobs: &Mutex<Receiver<Job>>) {
    let mut memory: Vec<Block> = Vec::new();
    loop {
        let job = {
            let jobs = jobs.lock().unwrap_or_else(|e| e.into_inner());
            jobs.recv()
        };
        let Ok(job) = job else { return };
        let ok = verify(&mut memory, job.password.as_bytes(), job.stored.as_deref());
        // The sign-in may have been given up on (client gone): nobody to tell.
        let _ = job.reply.send(ok);
    }
}

/// Checks a password against a PHC string with the caller's memory.
fn verify(memory: &mut Vec<Block>, password: &[u8], stored: Option<&str>) -> bool {
    match stored {
        Some(stored) => verify_phc(memory, password, stored).unwrap_or(false),
        None => {
            let params = Params::default();
            let argon = Argon2::new(Algorithm::Argon2id, Version::V0x13, params.clone());
            let mut out = [0u8; Params::DEFAULT_OUTPUT_LEN];
            let blocks = room(memory, params.block_count());
            let _ = argon.hash_password_into_with_memory(
                password,
                b"not a real salt!",
                &mut out,
                blocks,
            );
            false
        }
    }
}

fn verify_phc(memory: &mut Vec<Block>, password: &[u8], stored: &str) -> Option<bool> {
    let hash = PasswordHash::new(stored).ok()?;
    let params = Params::try_from(&hash).ok()?;
    let algorithm = Algorithm::try_from(hash.algorithm).ok()?;
    let version = match hash.version {
        Some(v) => Version::try_from(v).ok()?,
        None => Version::default(),
    };
    let expected = hash.hash?;
    let mut salt = [0u8; 64];
    let salt = hash.salt?.decode_b64(&mut salt).ok()?;
    if params.block_count() > MAX_BLOCKS {
        log::warn!(
            "a stored password hash asks for {} KiB of memory (at most {MAX_BLOCKS} KiB); refused",
            params.block_count()
        );
        return None;
    }
    let mut out = [0u8; 64];
    let out = out.get_mut(..expected.len())?;
    let blocks = room(memory, params.block_count());
    Argon2::new(algorithm, version, params)
        .hash_password_into_with_memory(password, salt, out, blocks)
        .ok()?;
    // `Output`'s equality is constant-time.
    Some(Output::new(out).ok()? == expected)
}

/// The first `blocks` blocks of the thread's memory, grown once if needed.
fn room(memory: &mut Vec<Block>, blocks: usize) -> &mut [Block] {
    if memory.len() < blocks {
        memory.resize(blocks, Block::default());
    }
    &mut memory[..blocks]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::security::secrets::hash_password;

    #[test]
    fn checks_the_hashes_syncd_writes_and_refuses_the_rest() {
        let stored = hash_password("correct horse battery").unwrap();
        let mut memory = Vec::new();
        assert!(verify(&mut memory, b"correct horse battery", Some(&stored)));
        let kept = memory.as_ptr();
        assert!(!verify(
            &mut memory,
            b"correct horse batterx",
            Some(&stored)
        ));
        assert_eq!(memory.as_ptr(), kept, "the same memory is reused");
        assert!(!verify(&mut memory, b"correct horse battery", None));
        assert!(!verify(&mut memory, b"x", Some("garbage")));
        let greedy = "$argon2id$v=19$m=1048576,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";
        assert!(!verify(&mut memory, b"x", Some(greedy)));
        assert!(memory.len() <= MAX_BLOCKS);
    }

    #[test]
    fn a_full_queue_answers_at_once() {
        actix_rt::System::new().block_on(async {
            let checkers = PasswordCheckers::start(1, 1);
            let stored = Some(hash_password("a password of some length").unwrap());
            let checks: Vec<_> = (0..8)
                .map(|_| checkers.check("wrong".into(), stored.clone()))
                .collect();
            let results = futures_util::future::join_all(checks).await;
            let busy = results.iter().filter(|r| **r == Err(Busy)).count();
            assert!(busy >= 1, "{results:?}");
            assert!(results.iter().all(|r| *r != Ok(true)));
            let ok = checkers
                .check("a password of some length".into(), stored)
                .await;
            assert_eq!(ok, Ok(true));
        });
    }
}
