//! The conformance guest (abi/abitest) as a Rust CGI program (abi = "cgi").
//!
//!   rustc --target wasm32-wasi -O -o cgi.wasm cgi.rs

use std::env;
use std::io::{self, Read, Write};

fn var(k: &str) -> String {
    env::var(k).unwrap_or_default()
}

fn main() -> io::Result<()> {
    let path = var("PATH_INFO");
    let out = io::stdout();
    let mut out = out.lock();
    if path == "/info" || path.starts_with("/info/") {
        write!(
            out,
            "Content-Type: text/plain\r\n\r\nmethod={} path={} query={} user={}\n",
            var("REQUEST_METHOD"),
            path,
            var("QUERY_STRING"),
            var("REMOTE_USER")
        )?;
    } else if path == "/echo" {
        write!(out, "Content-Type: application/octet-stream\r\n\r\n")?;
        out.flush()?;
        let mut buf = vec![0u8; 65536];
        let stdin = io::stdin();
        let mut stdin = stdin.lock();
        loop {
            let n = stdin.read(&mut buf)?;
            if n == 0 {
                break;
            }
            out.write_all(&buf[..n])?;
        }
    } else if path == "/headers" {
        let count = env::vars_os()
            .filter(|(k, _)| k.to_string_lossy().starts_with("HTTP_X_TEST_"))
            .count();
        write!(out, "Content-Type: text/plain\r\n\r\nheaders={}\n", count)?;
    } else if path == "/redirect" {
        write!(out, "Location: {}/info\r\n\r\n", var("SCRIPT_NAME"))?;
    } else if path == "/stream" {
        write!(out, "Content-Type: text/plain\r\n\r\n")?;
        for i in 1..=3 {
            write!(out, "chunk {}\n", i)?;
            out.flush()?;
        }
    } else {
        write!(out, "Status: 404 Not Found\r\nContent-Type: text/plain\r\n\r\nnot found\n")?;
    }
    out.flush()
}
