//! The bytes every body is made of, their checksum, and how big bodies stream.
//!
//! Byte `i` of every body is `i % 251`, so any stretch of any body is a slice of one small
//! window of `CHUNK + 251` bytes: no body is ever built in memory, whatever its size.
//!
//! Why bodies stream in chunks, yielding in between: the server runs on two worker threads
//! (one per core) shared by every connection. The old server computed each body's checksum
//! as it answered (FNV-1a is one dependent multiply per byte: tens of milliseconds for
//! 16 MiB) and handed the body to hyper as one frame: during 60 parallel 16 MiB downloads,
//! `/health` waited about a second behind them. Now:
//! - the checksum of any length comes from checkpoints computed once at startup, so at
//!   most one chunk is hashed per request (this alone brought `/health` to about 100 ms);
//! - a body is a stream of `CHUNK`-sized frames that yields to the runtime before each next
//!   frame. Tokio runs a task that yielded only after the other ready tasks, so a `/health`
//!   probe or a 50 KiB download goes before a big body sends its next 64 KiB (`/health`
//!   then answers in a few milliseconds).

use bytes::Bytes;
use futures_util::Stream;
use hyper::body::Frame;
use std::io;
use tokio::time::Instant;

/// Frame size of streamed bodies: big enough that the yield between frames costs nothing
/// measurable, small enough that a worker is never held for long.
pub const CHUNK: usize = 64 << 10;

/// The pattern repeats every `PERIOD` bytes; a prime, so no power-of-two read size lines
/// up with it and hides a misplaced chunk.
const PERIOD: usize = 251;

/// Byte `i` of every body.
pub fn pattern_byte(i: u64) -> u8 {
    (i % PERIOD as u64) as u8
}

/// The deterministic bytes and their checksums, shared by every connection.
pub struct Pattern {
    /// `CHUNK + PERIOD` pattern bytes: the chunk at any offset is a slice of this window.
    window: Bytes,
    /// `checkpoints[k]`: the FNV-1a 64 state after the first `k * CHUNK` bytes.
    checkpoints: Vec<u64>,
}

impl Pattern {
    /// Hash the pattern once up to `max_bytes`, keeping a checkpoint per chunk: tens of
    /// milliseconds for the default 16 MiB cap, seconds for the largest allowed, 1 GiB.
    pub fn new(max_bytes: u64) -> Pattern {
        let window = Bytes::from(
            (0..(CHUNK + PERIOD) as u64)
                .map(pattern_byte)
                .collect::<Vec<u8>>(),
        );
        let mut checkpoints = vec![workload::io::FNV_START];
        let mut offset = 0u64;
        while offset + (CHUNK as u64) <= max_bytes {
            let state = *checkpoints.last().expect("starts with one");
            checkpoints.push(workload::io::fnv1a(state, &slice(&window, offset, CHUNK)));
            offset += CHUNK as u64;
        }
        Pattern {
            window,
            checkpoints,
        }
    }

    /// FNV-1a 64 of the first `n` bytes, for `n` up to the cap given to [`Pattern::new`]:
    /// the checkpoint before `n`, then at most one chunk hashed.
    pub fn checksum(&self, n: u64) -> u64 {
        let k = (n / CHUNK as u64) as usize;
        let rest = (n % CHUNK as u64) as usize;
        let start = k as u64 * CHUNK as u64;
        workload::io::fnv1a(self.checkpoints[k], &self.chunk(start, rest))
    }

    /// Body bytes `offset .. offset + len`, for `len <= CHUNK`, without copying.
    pub fn chunk(&self, offset: u64, len: usize) -> Bytes {
        slice(&self.window, offset, len)
    }
}

fn slice(window: &Bytes, offset: u64, len: usize) -> Bytes {
    assert!(len <= CHUNK, "a chunk is at most {CHUNK} bytes");
    let start = (offset % PERIOD as u64) as usize;
    window.slice(start..start + len)
}

/// Until when a stream of frames goes on.
#[derive(Clone, Copy, Debug)]
pub enum Until {
    /// This many bytes in all, then the body ends.
    Bytes(u64),
    /// As many bytes as the client takes until this instant, then an error, which makes
    /// hyper drop the connection: no client can mistake what it got for a whole body.
    Deadline(Instant),
}

/// Pattern bytes in `CHUNK`-sized frames, yielding to the runtime before every frame but
/// the first (see the module header for why).
pub fn frames(
    pattern: std::sync::Arc<Pattern>,
    until: Until,
) -> impl Stream<Item = Result<Frame<Bytes>, io::Error>> + Send {
    futures_util::stream::unfold(Some(0u64), move |sent| {
        let pattern = pattern.clone();
        async move {
            let sent = sent?;
            if sent > 0 {
                tokio::task::yield_now().await;
            }
            let len = match until {
                Until::Bytes(n) if sent >= n => return None,
                Until::Bytes(n) => (n - sent).min(CHUNK as u64) as usize,
                Until::Deadline(at) if Instant::now() >= at => {
                    let timeout = io::Error::new(io::ErrorKind::TimedOut, "endless body cut");
                    return Some((Err(timeout), None));
                }
                Until::Deadline(_) => CHUNK,
            };
            let frame = Frame::data(pattern.chunk(sent, len));
            Some((Ok(frame), Some(sent + len as u64)))
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures_util::StreamExt;
    use std::sync::Arc;

    fn direct(n: u64) -> u64 {
        let body: Vec<u8> = (0..n).map(pattern_byte).collect();
        workload::io::fnv1a(workload::io::FNV_START, &body)
    }

    #[test]
    fn checksums_from_checkpoints_match_hashing_the_whole_body() {
        let max = 5 * CHUNK as u64 + 1000;
        let pattern = Pattern::new(max);
        let c = CHUNK as u64;
        for n in [0, 1, 250, 251, 252, c - 1, c, c + 1, 3 * c + 17, 5 * c, max] {
            assert_eq!(pattern.checksum(n), direct(n), "n = {n}");
        }
    }

    #[test]
    fn chunks_at_any_offset_are_the_pattern() {
        let pattern = Pattern::new(0);
        for offset in [0u64, 1, 250, 251, 65_536, 1 << 30] {
            let chunk = pattern.chunk(offset, CHUNK);
            assert!(chunk
                .iter()
                .enumerate()
                .all(|(i, &b)| b == pattern_byte(offset + i as u64)));
        }
    }

    #[tokio::test]
    async fn a_streamed_body_is_the_pattern_in_chunks() {
        let n = 2 * CHUNK as u64 + 3;
        let pattern = Arc::new(Pattern::new(n));
        let frames: Vec<_> = frames(pattern, Until::Bytes(n)).collect().await;
        let sizes: Vec<usize> = frames
            .iter()
            .map(|f| f.as_ref().unwrap().data_ref().unwrap().len())
            .collect();
        assert_eq!(sizes, [CHUNK, CHUNK, 3]);
        let body: Vec<u8> = frames
            .into_iter()
            .flat_map(|f| f.unwrap().into_data().unwrap())
            .collect();
        assert_eq!(
            workload::io::fnv1a(workload::io::FNV_START, &body),
            direct(n)
        );
    }

    #[tokio::test]
    async fn an_endless_body_ends_in_an_error_at_its_deadline() {
        let pattern = Arc::new(Pattern::new(0));
        let at = Instant::now() + std::time::Duration::from_millis(50);
        let frames: Vec<_> = frames(pattern, Until::Deadline(at)).collect().await;
        assert!(frames.len() > 1, "bytes before the deadline");
        assert!(frames[..frames.len() - 1].iter().all(Result::is_ok));
        assert!(frames.last().unwrap().is_err(), "ends in an error");
    }
}
