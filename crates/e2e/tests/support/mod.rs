//! A server that is not the fixture server, for the tests of what a client does with
//! somebody else's server: plain answers with Content-Length and no `x-checksum`, and no
//! `x-fixture-server` mark, as most servers on the internet answer.

use std::io::{Read, Write};
use std::net::TcpListener;

/// The body every answer carries.
pub const FOREIGN_BODY: &[u8] = b"a body from somebody else's server\n";

/// Serve [`FOREIGN_BODY`] to every request, one thread per connection, for as long as the
/// test process lives; returns its URL on 127.0.0.1.
pub fn foreign_server() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    let url = format!("http://{}/", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            std::thread::spawn(move || {
                // Read the request head, byte by byte up to its blank line.
                let (mut head, mut byte) = (Vec::new(), [0u8; 1]);
                while !head.ends_with(b"\r\n\r\n") {
                    match stream.read(&mut byte) {
                        Ok(1) => head.push(byte[0]),
                        _ => return,
                    }
                }
                let answer = format!(
                    "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                    FOREIGN_BODY.len()
                );
                let _ = stream.write_all(answer.as_bytes());
                let _ = stream.write_all(FOREIGN_BODY);
            });
        }
    });
    url
}
