//! The async HTTP side of tokio-async: the shared `reqwest` client, one task's downloads,
//! and reqwest's errors named in the terms every model uses ([`Cause`]).
//!
//! `reqwest` 0.12 is tokio's usual HTTP client (hyper underneath). It is built here with
//! rustls and bundled root certificates instead of native-tls, so it needs no OpenSSL on
//! the machine; plain http needs no TLS at all.

use std::error::Error as _;
use std::io;
use std::time::Duration;
use workload::io::{Cause, FetchError, Target, Verifier};
use workload::Tally;

/// The one client every task shares (a clone is a reference count on the same pool).
pub fn client() -> reqwest::Result<reqwest::Client> {
    reqwest::Client::builder()
        // Every task may hold a connection to the same host at once; keep them all for
        // reuse by the task's next URL. (usize::MAX is reqwest's default: said here so
        // that nobody "tunes" it down to a small number and makes tasks reconnect.)
        .pool_max_idle_per_host(usize::MAX)
        // The same policy as every client in the study (see `workload::io::Target`): no
        // proxy from the environment, and no redirect followed (reqwest follows 10 by
        // default): the 3xx comes back to the verifier, which names it.
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none())
        .build()
}

/// One task of the io workload: download every URL in turn, each body to its end.
pub async fn download_all(
    client: &reqwest::Client,
    urls: &[Target],
    timeout: Duration,
) -> Result<Tally, FetchError> {
    let mut total = Tally::default();
    for target in urls {
        // One after another, as in the seed: the task's concurrency is with other tasks.
        total += download(client, target, timeout).await?;
    }
    Ok(total)
}

/// Download one URL, streaming its body chunk by chunk through the verifier.
pub async fn download(
    client: &reqwest::Client,
    target: &Target,
    timeout: Duration,
) -> Result<Tally, FetchError> {
    let url = target.url.as_str();
    // RequestBuilder::timeout is a deadline for the whole request: connect, headers and
    // every body chunk. A 4xx/5xx is not an error for reqwest; the verifier names it.
    let mut request = client.get(url).timeout(timeout);
    if let Some(authorization) = &target.authorization {
        request = request.header(reqwest::header::AUTHORIZATION, authorization);
    }
    let mut response = request
        .send()
        .await
        .map_err(|e| FetchError::new(url, classify(&e, timeout)))?;
    let headers = response.headers();
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let mut verifier = Verifier::start(url, response.status().as_u16(), header)?;
    loop {
        // Each `.await` here is where this task yields its worker until bytes arrive.
        match response.chunk().await {
            Ok(Some(chunk)) => verifier.update(&chunk),
            Ok(None) => return verifier.finish(),
            // Mid-body: a reset or early close is reported as the truncation it causes.
            Err(e) => return Err(verifier.broken(classify(&e, timeout))),
        }
    }
}

/// Name the cause of a reqwest error. reqwest wraps hyper's error, which wraps the
/// socket's `io::Error`: walk that source chain to the first thing we can recognise.
pub fn classify(e: &reqwest::Error, timeout: Duration) -> Cause {
    // Checked first: the deadline's own error sits in the same chain as whatever it cut.
    if e.is_timeout() {
        return Cause::Timeout(timeout);
    }
    let mut source = e.source();
    while let Some(err) = source {
        // ConnectionRefused (connect), ConnectionReset or UnexpectedEof (mid-body), ...
        if let Some(io) = err.downcast_ref::<io::Error>() {
            if let cause @ (Cause::Refused | Cause::Reset | Cause::Timeout(_)) =
                Cause::from_io(io, timeout)
            {
                return cause;
            }
        }
        // "connection closed before message completed": the server hung up before its
        // answer (or mid-body), with no io::Error underneath.
        if let Some(hyper) = err.downcast_ref::<hyper::Error>() {
            if hyper.is_incomplete_message() {
                return Cause::Reset;
            }
        }
        source = err.source();
    }
    Cause::Other(chain(e))
}

/// The error and its sources on one line: reqwest's own message alone says only
/// "error sending request for url (...)".
fn chain(e: &reqwest::Error) -> String {
    let mut line = e.to_string();
    let mut source = e.source();
    while let Some(err) = source {
        line.push_str(": ");
        line.push_str(&err.to_string());
        source = err.source();
    }
    line
}

#[cfg(test)]
mod tests {
    //! reqwest's error chain is not a stable API: these pin down that each way a server can
    //! fail still maps to the right cause, against a raw socket on 127.0.0.1:0.

    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpListener;

    /// Serve one connection: read the request, write `reply`, then close (or, with
    /// `hang`, keep the socket open and silent).
    async fn serve_once(reply: &'static [u8], hang: bool) -> String {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/x", listener.local_addr().unwrap());
        tokio::spawn(async move {
            let (mut socket, _) = listener.accept().await.unwrap();
            let mut buf = [0u8; 1024];
            let _ = socket.read(&mut buf).await;
            let _ = socket.write_all(reply).await;
            if hang {
                tokio::time::sleep(Duration::from_secs(10)).await;
            }
        });
        url
    }

    async fn cause_of(url: &str, timeout: Duration) -> Cause {
        let client = client().unwrap();
        download(&client, &Target::new(url), timeout)
            .await
            .unwrap_err()
            .cause
    }

    const T: Duration = Duration::from_millis(300);

    #[tokio::test]
    async fn a_body_cut_short_is_truncated() {
        let url = serve_once(b"HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\n123", false).await;
        let want = Cause::Truncated {
            expected: 10,
            got: 3,
        };
        assert_eq!(cause_of(&url, T).await, want);
    }

    #[tokio::test]
    async fn a_close_before_the_answer_is_a_reset() {
        let url = serve_once(b"", false).await;
        assert_eq!(cause_of(&url, T).await, Cause::Reset);
    }

    #[tokio::test]
    async fn silence_mid_body_is_a_timeout() {
        let url = serve_once(b"HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\n1", true).await;
        assert_eq!(cause_of(&url, T).await, Cause::Timeout(T));
    }

    #[tokio::test]
    async fn nothing_listening_is_refused() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/x", listener.local_addr().unwrap());
        drop(listener);
        assert_eq!(cause_of(&url, T).await, Cause::Refused);
    }
}
