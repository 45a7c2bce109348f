//! The conformance guest (abi/abitest) as a Rust reactor on the raw ABI.
//!
//!   rustc --target wasm32-wasi --crate-type cdylib -O -o reactor.wasm reactor.rs
//!
//! Debian's rustc and libstd-rust-dev-wasm32 are enough: no cargo, no
//! crates, nothing fetched.

mod wasgi {
    //! The wasgi imports (abi/ABI.md §4), as abi/include/wasgi.h declares them.
    #[link(wasm_import_module = "wasgi")]
    extern "C" {
        pub fn environ_len() -> i32;
        pub fn environ_read(buf: *mut u8, len: u32) -> i32;
        pub fn body_read(buf: *mut u8, len: u32) -> i32;
        pub fn start_response(status: *const u8, status_len: u32, headers: *const u8, headers_len: u32) -> i32;
        pub fn body_write(buf: *const u8, len: u32) -> i32;
        pub fn auth_user(buf: *mut u8, len: u32) -> i32;
        pub fn auth_password(buf: *mut u8, len: u32) -> i32;
        pub fn auth_groups(buf: *const u8, len: u32) -> i32;
    }

    pub const AUTH_OK: i32 = 1;
    pub const AUTH_DENIED: i32 = 0;
    pub const AUTH_UNKNOWN_USER: i32 = -1;

    /// The request's environ: NUL-terminated KEY=VALUE entries.
    pub fn environ() -> Option<Vec<u8>> {
        let n = unsafe { environ_len() };
        if n < 0 {
            return None;
        }
        let mut buf = vec![0u8; n as usize];
        let got = unsafe { environ_read(buf.as_mut_ptr(), n as u32) };
        if got != n {
            return None;
        }
        Some(buf)
    }

    pub fn start(status: &str, headers: &str) -> bool {
        unsafe { start_response(status.as_ptr(), status.len() as u32, headers.as_ptr(), headers.len() as u32) == 0 }
    }

    pub fn write(b: &[u8]) -> i32 {
        unsafe { body_write(b.as_ptr(), b.len() as u32) }
    }

    pub fn flush() {
        unsafe { body_write(core::ptr::null(), 0) };
    }

    pub fn read(buf: &mut [u8]) -> i32 {
        unsafe { body_read(buf.as_mut_ptr(), buf.len() as u32) }
    }

    /// A credential from auth_user or auth_password, or None if it does
    /// not fit in max bytes.
    pub fn credential(f: unsafe extern "C" fn(*mut u8, u32) -> i32, max: usize) -> Option<Vec<u8>> {
        let mut buf = vec![0u8; max];
        let n = unsafe { f(buf.as_mut_ptr(), max as u32) };
        if n < 0 || n as usize >= max {
            return None;
        }
        buf.truncate(n as usize);
        Some(buf)
    }
}

/// The entries of an environ, split at their NULs.
fn entries(env: &[u8]) -> impl Iterator<Item = &[u8]> {
    env.split(|&b| b == 0).filter(|e| !e.is_empty())
}

fn get<'a>(env: &'a [u8], key: &str) -> &'a str {
    for e in entries(env) {
        if e.len() > key.len() && e[key.len()] == b'=' && &e[..key.len()] == key.as_bytes() {
            return core::str::from_utf8(&e[key.len() + 1..]).unwrap_or("");
        }
    }
    ""
}

#[export_name = "wasgi_handle"]
pub extern "C" fn handle() -> i32 {
    let env = match wasgi::environ() {
        Some(e) => e,
        None => return 1,
    };
    let path = get(&env, "PATH_INFO");
    if path == "/info" || path.starts_with("/info/") {
        wasgi::start("200 OK", "Content-Type: text/plain\r\n");
        let line = format!(
            "method={} path={} query={} user={}\n",
            get(&env, "REQUEST_METHOD"),
            path,
            get(&env, "QUERY_STRING"),
            get(&env, "REMOTE_USER")
        );
        wasgi::write(line.as_bytes());
    } else if path == "/echo" {
        wasgi::start("200 OK", "Content-Type: application/octet-stream\r\n");
        let mut buf = vec![0u8; 65536];
        loop {
            let n = wasgi::read(&mut buf);
            if n < 0 {
                return 1;
            }
            if n == 0 {
                break;
            }
            wasgi::write(&buf[..n as usize]);
        }
    } else if path == "/headers" {
        let count = entries(&env).filter(|e| e.starts_with(b"HTTP_X_TEST_")).count();
        wasgi::start("200 OK", "Content-Type: text/plain\r\n");
        wasgi::write(format!("headers={}\n", count).as_bytes());
    } else if path == "/redirect" {
        wasgi::start("302 Found", &format!("Location: {}/info\r\n", get(&env, "SCRIPT_NAME")));
    } else if path == "/stream" {
        wasgi::start("200 OK", "Content-Type: text/plain\r\n");
        for i in 1..=3 {
            wasgi::write(format!("chunk {}\n", i).as_bytes());
            wasgi::flush();
        }
    } else {
        wasgi::start("404 Not Found", "Content-Type: text/plain\r\n");
        wasgi::write(b"not found\n");
    }
    0
}

/// A user database of one, for the auth exports.
#[export_name = "wasgi_check_password"]
pub extern "C" fn check_password() -> i32 {
    let (user, password) = match (
        wasgi::credential(wasgi::auth_user, 256),
        wasgi::credential(wasgi::auth_password, 256),
    ) {
        (Some(u), Some(p)) => (u, p),
        _ => return wasgi::AUTH_UNKNOWN_USER,
    };
    if user != b"conform" {
        return wasgi::AUTH_UNKNOWN_USER;
    }
    if password == b"secret" {
        wasgi::AUTH_OK
    } else {
        wasgi::AUTH_DENIED
    }
}

#[export_name = "wasgi_groups_for_user"]
pub extern "C" fn groups_for_user() -> i32 {
    let groups = b"staff\nusers\n";
    if unsafe { wasgi::auth_groups(groups.as_ptr(), groups.len() as u32) } == 0 {
        0
    } else {
        1
    }
}
