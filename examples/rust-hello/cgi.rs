//! rust-hello as CGI: a plain WASI command run once per request
//! (abi = "cgi"). The request comes in the environment and on stdin; the
//! answer, headers first, goes to stdout.
//!
//!   rustc --target wasm32-wasi -O -C strip=symbols -o hello-cgi.wasm cgi.rs

use std::env;

fn main() {
    let var = |k: &str| env::var(k).unwrap_or_default();
    print!(
        "Content-Type: text/plain; charset=utf-8\r\n\r\nHello from Rust CGI! You asked for {}{}\n",
        var("SCRIPT_NAME"),
        var("PATH_INFO")
    );
}
