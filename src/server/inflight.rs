//! Requests in flight, counted from the moment a request arrives until its
//! response body has been sent or dropped. A graceful stop waits on this
//! count rather than on actix's own per-worker connection accounting, which
//! under load was seen to let a stop finish while a streamed response was
//! still being written (the client got a cut body).

use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use actix_web::body::{BodySize, MessageBody};
use actix_web::web::Bytes;

/// The shared count.
#[derive(Clone, Default)]
pub struct InFlight(Arc<AtomicUsize>);

impl InFlight {
    pub fn new() -> Self {
        Self::default()
    }

    /// Counts one request until the guard is dropped.
    pub fn enter(&self) -> Guard {
        self.0.fetch_add(1, Ordering::SeqCst);
        Guard(self.0.clone())
    }

    pub fn count(&self) -> usize {
        self.0.load(Ordering::SeqCst)
    }

    /// Waits until nothing is in flight, or until `timeout` has passed;
    /// true when everything finished.
    pub async fn drained(&self, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        while self.count() > 0 {
            if Instant::now() >= deadline {
                return false;
            }
            actix_rt::time::sleep(Duration::from_millis(20)).await;
        }
        true
    }
}

/// Holds one count.
pub struct Guard(Arc<AtomicUsize>);

impl Drop for Guard {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

/// A response body that keeps its request counted until it is done.
pub struct CountedBody<B> {
    body: B,
    _guard: Guard,
}

impl<B> CountedBody<B> {
    pub fn new(body: B, guard: Guard) -> Self {
        CountedBody {
            body,
            _guard: guard,
        }
    }
}

impl<B: MessageBody + Unpin> MessageBody for CountedBody<B> {
    type Error = B::Error;

    fn size(&self) -> BodySize {
        self.body.size()
    }

    fn poll_next(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Bytes, Self::Error>>> {
        Pin::new(&mut self.get_mut().body).poll_next(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[actix_rt::test]
    async fn counts_until_the_guard_goes() {
        let inflight = InFlight::new();
        let guard = inflight.enter();
        assert_eq!(inflight.count(), 1);
        assert!(!inflight.drained(Duration::from_millis(50)).await);
        drop(guard);
        assert!(inflight.drained(Duration::from_millis(50)).await);
    }
}
