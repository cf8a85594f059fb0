//! SIGINT and SIGTERM: the server's cue to stop accepting, drain and print its summary.
//!
//! [`install`] starts one thread that waits for either signal (`signal-hook`'s iterator:
//! the handler only writes to a pipe, everything else runs on that thread, outside the
//! handler). When one comes it sets a flag that blocking accept loops look at
//! ([`requested`]) and wakes every task waiting in [`signalled`], a future that needs no
//! particular runtime: tokio, smol and async-std all wait on it the same way. A plain
//! thread with nothing else to do meanwhile waits in [`wait`] (green's main thread, while
//! may's coroutines serve).

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Wake, Waker};

static REQUESTED: AtomicBool = AtomicBool::new(false);
static WAITING: Mutex<Vec<Waker>> = Mutex::new(Vec::new());

/// Catch SIGINT and SIGTERM from now on (call it before the address is announced, so a
/// signal sent the moment it appears is a clean stop, not a kill).
pub fn install() -> anyhow::Result<()> {
    use signal_hook::consts::{SIGINT, SIGTERM};
    let mut signals = signal_hook::iterator::Signals::new([SIGINT, SIGTERM])
        .map_err(|e| anyhow::anyhow!("cannot catch SIGINT and SIGTERM: {e}"))?;
    std::thread::Builder::new()
        .name("shutdown".into())
        .spawn(move || {
            if let Some(signal) = signals.forever().next() {
                let name = if signal == SIGINT {
                    "SIGINT"
                } else {
                    "SIGTERM"
                };
                eprintln!(
                    "{}: {name}: no new connections; draining the requests in flight",
                    crate::run::model()
                );
                request();
            }
        })
        .map_err(|e| anyhow::anyhow!("cannot start the signal thread: {e}"))?;
    Ok(())
}

/// Ask for a stop as a signal would (tests, and a server that must end on its own).
pub fn request() {
    REQUESTED.store(true, Ordering::SeqCst);
    for waker in WAITING.lock().unwrap_or_else(|e| e.into_inner()).drain(..) {
        waker.wake();
    }
}

/// Has SIGINT or SIGTERM arrived?
pub fn requested() -> bool {
    REQUESTED.load(Ordering::SeqCst)
}

/// A future that completes once SIGINT or SIGTERM has arrived, on any runtime.
pub fn signalled() -> Signalled {
    Signalled
}

pub struct Signalled;

impl Future for Signalled {
    type Output = ();
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if requested() {
            return Poll::Ready(());
        }
        let mut waiting = WAITING.lock().unwrap_or_else(|e| e.into_inner());
        // Checked again under the lock: `request` drains the list under it, so a stop
        // between the first check and here is seen now, not missed.
        if requested() {
            return Poll::Ready(());
        }
        if !waiting.iter().any(|w| w.will_wake(cx.waker())) {
            waiting.push(cx.waker().clone());
        }
        Poll::Pending
    }
}

/// Park this thread until SIGINT or SIGTERM has arrived: [`signalled`], polled by a waker
/// that unparks the thread (a spurious unpark only polls it again).
pub fn wait() {
    struct Unpark(std::thread::Thread);
    impl Wake for Unpark {
        fn wake(self: Arc<Self>) {
            self.0.unpark();
        }
    }
    let waker = Waker::from(Arc::new(Unpark(std::thread::current())));
    let mut cx = Context::from_waker(&waker);
    while Pin::new(&mut signalled()).poll(&mut cx).is_pending() {
        std::thread::park();
    }
}
