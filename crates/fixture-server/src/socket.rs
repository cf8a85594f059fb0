//! A connection's socket as hyper sees it: the TCP stream, telling the connection's
//! watchdog whenever bytes move, and able to trickle an answer's head line by line.
//!
//! Trickling is for `/slow-headers`: hyper writes a head in one go and offers no way to
//! pace it, so the socket does. When the connection has a slow-head order and hyper
//! writes the next head, the socket takes the whole head at once (hyper sees it written),
//! then sends its status line at once and the remaining lines spread evenly over the
//! ordered time; hyper's next write waits until the head is out.

use crate::conn::Conn;
use bytes::{Buf, Bytes};
use std::collections::VecDeque;
use std::future::Future;
use std::io::{self, IoSlice};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{ready, Context, Poll};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio::time::{Duration, Instant, Sleep};

pub struct Socket {
    stream: TcpStream,
    conn: Arc<Conn>,
    slow_head: Option<SlowHead>,
}

/// A head being trickled: its lines, each with the moment it is due.
struct SlowHead {
    lines: VecDeque<(Instant, Bytes)>,
    timer: Pin<Box<Sleep>>,
}

impl SlowHead {
    /// The status line due now; the header lines and the blank line ending the head evenly
    /// spread over `over`, so that the head is complete after `over`.
    fn new(head: &[u8], over: Duration, now: Instant) -> SlowHead {
        let lines: Vec<Bytes> = head
            .split_inclusive(|&b| b == b'\n')
            .map(Bytes::copy_from_slice)
            .collect();
        let later = (lines.len() as u32).saturating_sub(1).max(1);
        let lines = lines
            .into_iter()
            .enumerate()
            .map(|(i, line)| (now + over * i as u32 / later, line))
            .collect();
        SlowHead {
            lines,
            timer: Box::pin(tokio::time::sleep_until(now)),
        }
    }
}

/// Length of the response head at the start of `buf` (through its blank line), if `buf`
/// starts with a whole one.
fn head_len(buf: &[u8]) -> Option<usize> {
    if !buf.starts_with(b"HTTP/") {
        return None;
    }
    buf.windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map(|at| at + 4)
}

impl Socket {
    pub fn new(stream: TcpStream, conn: Arc<Conn>) -> Socket {
        Socket {
            stream,
            conn,
            slow_head: None,
        }
    }

    /// Send what is left of a trickled head, each line when it is due.
    fn poll_slow_head(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        while let Some(head) = &mut self.slow_head {
            let Some((due, line)) = head.lines.front_mut() else {
                self.slow_head = None;
                self.conn.set_trickling(false);
                break;
            };
            if head.timer.deadline() != *due {
                head.timer.as_mut().reset(*due);
            }
            ready!(head.timer.as_mut().poll(cx));
            let n = ready!(Pin::new(&mut self.stream).poll_write(cx, line))?;
            if n == 0 {
                return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
            }
            self.conn.wrote_some();
            line.advance(n);
            if line.is_empty() {
                head.lines.pop_front();
            }
        }
        Poll::Ready(Ok(()))
    }

    /// If the connection has a slow-head order and `buf` starts with a head, take the head
    /// to trickle it, and return its length as written.
    fn take_head(&mut self, buf: &[u8]) -> Option<usize> {
        let len = head_len(buf)?;
        let over = self.conn.take_slow_head()?;
        self.slow_head = Some(SlowHead::new(&buf[..len], over, Instant::now()));
        self.conn.set_trickling(true);
        Some(len)
    }
}

impl AsyncRead for Socket {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        let Poll::Ready(read) = Pin::new(&mut this.stream).poll_read(cx, buf) else {
            this.conn.read_nothing();
            return Poll::Pending;
        };
        read?;
        if buf.filled().len() > before {
            this.conn.read_some();
        }
        Poll::Ready(Ok(()))
    }
}

impl AsyncWrite for Socket {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        ready!(this.poll_slow_head(cx))?;
        if let Some(taken) = this.take_head(buf) {
            return Poll::Ready(Ok(taken));
        }
        let n = ready!(Pin::new(&mut this.stream).poll_write(cx, buf))?;
        if n > 0 {
            this.conn.wrote_some();
        }
        Poll::Ready(Ok(n))
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        ready!(this.poll_slow_head(cx))?;
        // hyper puts a head in a buffer of its own, the first of a write.
        if let Some(first) = bufs.iter().find(|b| !b.is_empty()) {
            if let Some(taken) = this.take_head(first) {
                return Poll::Ready(Ok(taken));
            }
        }
        let n = ready!(Pin::new(&mut this.stream).poll_write_vectored(cx, bufs))?;
        if n > 0 {
            this.conn.wrote_some();
        }
        Poll::Ready(Ok(n))
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        ready!(this.poll_slow_head(cx))?;
        Pin::new(&mut this.stream).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        ready!(this.poll_slow_head(cx))?;
        Pin::new(&mut this.stream).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_slow_head_is_complete_after_the_ordered_time() {
        let head = b"HTTP/1.1 200 OK\r\ncontent-length: 3\r\nx-checksum: 1\r\ndate: now\r\n\r\n";
        assert_eq!(head_len(&[&head[..], b"abc"].concat()), Some(head.len()));
        let now = Instant::now();
        let slow = SlowHead::new(head, Duration::from_millis(800), now);
        let due: Vec<(u64, &[u8])> = slow
            .lines
            .iter()
            .map(|(at, line)| ((*at - now).as_millis() as u64, &line[..]))
            .collect();
        assert_eq!(
            due,
            [
                (0, &b"HTTP/1.1 200 OK\r\n"[..]),
                (200, b"content-length: 3\r\n"),
                (400, b"x-checksum: 1\r\n"),
                (600, b"date: now\r\n"),
                (800, b"\r\n"),
            ]
        );
    }

    #[test]
    fn only_a_whole_head_is_taken() {
        assert_eq!(head_len(b"HTTP/1.1 200 OK\r\ncontent-length: 3\r\n"), None);
        assert_eq!(head_len(b"\r\n\r\nHTTP/1.1 200 OK\r\n\r\n"), None);
    }
}
