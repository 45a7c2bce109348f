//! rust-hello: a wasgi reactor in Rust, on the raw ABI (abi/ABI.md).
//!
//!   rustc --target wasm32-wasi --crate-type cdylib -O -C strip=symbols -o hello.wasm hello.rs
//!
//! (Debian's rustc 1.63 names the target wasm32-wasi, newer ones
//! wasm32-wasip1.) No cargo, no crates: the imports are declared here.

#[link(wasm_import_module = "wasgi")]
extern "C" {
    fn environ_len() -> i32;
    fn environ_read(buf: *mut u8, len: u32) -> i32;
    fn start_response(status: *const u8, status_len: u32, headers: *const u8, headers_len: u32) -> i32;
    fn body_write(buf: *const u8, len: u32) -> i32;
}

/// The value of key in the request's environ (NUL-terminated KEY=VALUE
/// entries), or "".
fn env_get<'a>(env: &'a [u8], key: &str) -> &'a str {
    env.split(|&b| b == 0)
        .find(|e| e.len() > key.len() && e[key.len()] == b'=' && e.starts_with(key.as_bytes()))
        .and_then(|e| std::str::from_utf8(&e[key.len() + 1..]).ok())
        .unwrap_or("")
}

/// Answers every request with a greeting; a non-zero return makes the
/// host answer 500.
#[export_name = "wasgi_handle"]
pub extern "C" fn handle() -> i32 {
    let n = unsafe { environ_len() };
    if n < 0 {
        return 1;
    }
    let mut env = vec![0u8; n as usize];
    if unsafe { environ_read(env.as_mut_ptr(), n as u32) } != n {
        return 1;
    }
    let status = "200 OK";
    let headers = "Content-Type: text/plain; charset=utf-8\r\n";
    if unsafe { start_response(status.as_ptr(), status.len() as u32, headers.as_ptr(), headers.len() as u32) } != 0 {
        return 1;
    }
    let body = format!(
        "Hello from Rust! You asked for {}{}\n",
        env_get(&env, "SCRIPT_NAME"),
        env_get(&env, "PATH_INFO")
    );
    unsafe { body_write(body.as_ptr(), body.len() as u32) };
    0
}
