// Package abi is the contract between the wasgi host and its guest apps: the
// names of the functions each side provides, the codes they return and the
// byte encodings they exchange. abi/ABI.md is the prose version of this file.
//
// The package imports nothing of the project and has no mutable state, so the
// host (which imports wazero) and the guest SDK (which builds with
// GOOS=wasip1) can both depend on it.
//
// # Shape
//
// The ABI is WSGI-shaped. The host calls the guest export [FuncHandle] once per
// request. During that call the guest pulls the request with [FuncEnvironLen],
// [FuncEnvironRead] and [FuncBodyRead], answers with one [FuncStartResponse],
// then streams the response body with [FuncBodyWrite].
//
// Every import that hands data to the guest takes a guest buffer (ptr, len),
// writes at most len bytes into it and returns how many bytes the whole value
// needs, so a guest can retry with a bigger buffer. The host never writes to
// guest memory it was not handed. A (ptr, len) pair that does not fit inside
// the guest's linear memory traps the guest: the request fails with 500 and
// the instance is discarded.
package abi

// Version is the ABI version this package describes. It appears in the
// environ as [KeyABIVersion].
const Version = "1"

// ModuleName is the Wasm import module name of every host function.
const ModuleName = "wasgi"

// Guest exports.
const (
	// FuncHandle is the guest export `wasgi_handle() -> i32`, called once
	// per request. It returns 0 when the request was handled. A non-zero
	// result before [FuncStartResponse] succeeded makes the host answer 500;
	// after, the host logs the code and aborts the connection, so that the
	// client cannot take the cut-off body for a whole one. A reactor must
	// export it (and _initialize, not _start).
	FuncHandle = "wasgi_handle"

	// FuncCheckPassword is the optional guest export
	// `wasgi_check_password() -> i32`, like mod_wsgi's WSGIAuthUserScript
	// check_password(environ, user, password). The guest reads the
	// credentials with [FuncAuthUser] and [FuncAuthPassword] (and may read
	// the request environ) and returns [AuthOK], [AuthDenied] or
	// [AuthUnknownUser].
	FuncCheckPassword = "wasgi_check_password"

	// FuncGroupsForUser is the optional guest export
	// `wasgi_groups_for_user() -> i32`, like mod_wsgi's WSGIAuthGroupScript
	// groups_for_user(environ, user). The guest reads the user name with
	// [FuncAuthUser] and answers with [FuncAuthGroups]; it returns 0 on
	// success. Anything else is a provider failure: the host answers 500
	// (it fails closed, never treating the user as admitted).
	FuncGroupsForUser = "wasgi_groups_for_user"

	// FuncRun is the optional guest export `wasgi_run() -> i32` of a
	// reactor: a one-shot run outside HTTP (`wasgi manage`), after
	// _initialize, with the run's arguments as WASI args (argv[0] is the
	// app's name), its stdin, stdout and stderr as WASI's. It returns the
	// exit status. A WASI command runs its _start instead.
	FuncRun = "wasgi_run"

	// FuncInitialize is the WASI reactor initialiser `_initialize()`. The
	// host calls it once when an instance is created, before any request.
	// Go's -buildmode=c-shared runs package init functions in it.
	FuncInitialize = "_initialize"

	// FuncStart is the WASI command entry point `_start()`. A module that
	// exports it and not [FuncInitialize] is a command, not a reactor: it
	// runs as CGI (abi = "cgi"), never under [FuncHandle].
	FuncStart = "_start"
)

// Host imports, all in module [ModuleName]. Parameters and results are i32;
// pointers and lengths are read as unsigned 32-bit values.
const (
	// FuncEnvironLen is `environ_len() -> i32`: the size in bytes of the
	// encoded environ of the current request (see [FuncEnvironRead]), or
	// [ErrNotAllowed] outside a request.
	FuncEnvironLen = "environ_len"

	// FuncEnvironRead is `environ_read(buf, len) -> i32`. It writes the
	// request environ as a sequence of `KEY=VALUE\x00` entries into
	// buf[0:len], at most len bytes, and returns the full encoded length.
	// Keys never contain '=' or NUL; values never contain NUL. Values are
	// raw bytes: PATH_INFO is the percent-decoded path, in whatever
	// encoding the client sent (UTF-8 in practice).
	FuncEnvironRead = "environ_read"

	// FuncBodyRead is `body_read(buf, len) -> i32`. It reads the next
	// request body bytes into buf[0:len] and returns how many it wrote:
	// > 0 bytes read, 0 at the end of the body, or a negative error
	// ([ErrIO], [ErrBodyTooLarge], [ErrNotAllowed]). It blocks until at
	// least one byte, the end or an error.
	FuncBodyRead = "body_read"

	// FuncStartResponse is
	// `start_response(status, status_len, headers, headers_len) -> i32`.
	// status holds the status line without protocol ("200 OK", or just
	// "200"); headers holds zero or more `Name: value\r\n` lines (the last
	// CRLF may be left out). It returns 0 or [ErrAlreadyStarted],
	// [ErrInvalidStatus], [ErrInvalidHeader], [ErrNotAllowed]; nothing is
	// sent when it fails. Hop-by-hop headers (Connection, Keep-Alive,
	// Transfer-Encoding, Upgrade, ...) are dropped: the host owns the
	// connection.
	FuncStartResponse = "start_response"

	// FuncBodyWrite is `body_write(buf, len) -> i32`. It sends buf[0:len]
	// as response body and returns len, or [ErrNotStarted] before a
	// successful [FuncStartResponse], or [ErrIO] when the client is gone.
	// A write of length 0 flushes what was written so far to the client.
	FuncBodyWrite = "body_write"

	// FuncAuthUser is `auth_user(buf, len) -> i32`: the Basic auth user
	// name, during [FuncCheckPassword] and [FuncGroupsForUser] only;
	// [ErrNotAllowed] otherwise. Same buffer rules as [FuncEnvironRead].
	FuncAuthUser = "auth_user"

	// FuncAuthPassword is `auth_password(buf, len) -> i32`: the Basic auth
	// password, during [FuncCheckPassword] only; [ErrNotAllowed]
	// otherwise. Same buffer rules as [FuncEnvironRead].
	FuncAuthPassword = "auth_password"

	// FuncAuthGroups is `auth_groups(buf, len) -> i32`: during
	// [FuncGroupsForUser], the guest hands the host the user's groups as
	// newline-separated names. It returns 0, or [ErrNotAllowed] outside
	// that export.
	FuncAuthGroups = "auth_groups"

	// FuncLog is `log(level, buf, len)`: writes buf[0:len] to the host's
	// structured log at the given level ([LogDebug] .. [LogError]), tagged
	// with the site and app. Unknown levels log as [LogInfo].
	FuncLog = "log"
)

// Outbound connections (abi/ABI.md section 4.8): the guest reaches exactly
// the destinations its app's `outbound` list names, by name and port; the
// host resolves, checks, connects, and for a tls:// entry does TLS itself.
// Every call is bounded by the running call's deadline (the request's,
// _initialize's, a one-shot run's) and works in every export.
const (
	// FuncNetConnect is `net_connect(addr, addr_len, info) -> i32`: opens a
	// connection to addr ("host:port", "[v6]:port"), which must match an
	// entry of the app's outbound list, and returns its handle (> 0). The
	// host writes 4 bytes at info: a little-endian u32 of NetTLS and other
	// flags. Errors: [ErrDenied], [ErrConnect], [ErrTooManyConns],
	// [ErrTimeout].
	FuncNetConnect = "net_connect"

	// FuncNetRead is `net_read(handle, buf, len, timeout_ms) -> i32`: reads
	// up to len bytes into buf, returning how many (> 0), 0 at the end of
	// the stream, or [ErrTimeout] (nothing read within timeout_ms; the
	// connection stays usable), [ErrIO], [ErrBadHandle].
	FuncNetRead = "net_read"

	// FuncNetWrite is `net_write(handle, buf, len, timeout_ms) -> i32`:
	// sends buf[0:len], returning len, or the bytes sent before the
	// timeout, or [ErrTimeout] when none were, [ErrIO], [ErrBadHandle].
	FuncNetWrite = "net_write"

	// FuncNetShutdown is `net_shutdown(handle) -> i32`: closes the write
	// side (the peer reads the end of the stream); 0, [ErrIO] or
	// [ErrBadHandle].
	FuncNetShutdown = "net_shutdown"

	// FuncNetClose is `net_close(handle) -> i32`: closes the connection
	// and frees the handle; 0 or [ErrBadHandle]. Connections still open
	// when the instance ends are closed by the host.
	FuncNetClose = "net_close"
)

// File locks (abi/ABI.md section 4.9): WASI preview 1 has none, and
// SQLite needs them to keep a database whole when several instances (and
// native processes) write it. The host takes the lock on the real file, as
// an open-file-description lock held by the instance: instances of one
// app conflict with each other as processes do, and with a native
// process's fcntl locks on the same file.
const (
	// FuncFileLock is `file_lock(path, path_len, cmd, type, start, len)
	// -> i32`: path is a guest path under one of the app's dirs. cmd
	// [LockSet] takes, changes or drops the lock on bytes [start,
	// start+len) (len 0: to the end of the file) without waiting, and
	// returns 0 or [ErrLocked]; cmd [LockTest] returns the lock that
	// would conflict: 0 none, [LockRead] or [LockWrite]. Errors:
	// [ErrDenied] (not under a dir, or a write lock on a ro dir),
	// [ErrIO] (no such file, or the host refused).
	FuncFileLock = "file_lock"
)

// Cryptographic primitives (abi/ABI.md section 4.10), far slower in wasm.
const (
	// FuncPBKDF2 is `pbkdf2_hmac(hash, hash_len, password, password_len,
	// salt, salt_len, iterations, out, out_len) -> i32`: PBKDF2-HMAC of
	// the named hash ("sha1", "sha224", "sha256", "sha384", "sha512", as
	// hashlib names them) into out[0:out_len] (1 to 1024 bytes); 0, or
	// [ErrIO] (unknown hash, sizes out of bounds: nothing written), or
	// [ErrTimeout] when the running call's deadline passes first.
	FuncPBKDF2 = "pbkdf2_hmac"
)

// Commands and lock types of [FuncFileLock].
const (
	LockSet  int32 = 0 // LockSet is F_SETLK: take, change or drop, without waiting.
	LockTest int32 = 1 // LockTest is F_GETLK: which lock would conflict.

	LockUnlock int32 = 0 // LockUnlock drops the range (F_UNLCK).
	LockRead   int32 = 1 // LockRead is a shared lock (F_RDLCK).
	LockWrite  int32 = 2 // LockWrite is an exclusive lock (F_WRLCK).
)

// Timeouts of [FuncNetRead] and [FuncNetWrite], in milliseconds: a value
// > 0 waits at most that long, capped by the call's deadline.
const (
	// NetWaitDeadline waits as long as the running call's deadline allows.
	NetWaitDeadline int32 = -1
	// NetPoll does not wait (a read returns what is already there).
	NetPoll int32 = 0
)

// Flags [FuncNetConnect] writes at info.
const (
	// NetTLS: the entry is tls://: the host did the TLS handshake
	// (verified, with SNI), and the guest reads and writes plaintext.
	NetTLS uint32 = 1
)

// Negative results of host imports. A result >= 0 is a success.
const (
	// ErrNotAllowed: the import makes no sense in this call, e.g.
	// environ_read while _initialize runs, or auth_password during
	// wasgi_handle.
	ErrNotAllowed int32 = -1
	// ErrAlreadyStarted: start_response was already called successfully.
	ErrAlreadyStarted int32 = -2
	// ErrNotStarted: body_write before a successful start_response.
	ErrNotStarted int32 = -3
	// ErrInvalidStatus: the status is not "NNN" or "NNN reason" with NNN in
	// 200..599 and a reason free of control characters.
	ErrInvalidStatus int32 = -4
	// ErrInvalidHeader: a header line is not `Name: value`, the name is not
	// an HTTP token, or the value has CR, LF or NUL (header injection).
	ErrInvalidHeader int32 = -5
	// ErrIO: the client connection failed (gone, or too slow for the
	// request deadline).
	ErrIO int32 = -6
	// ErrBodyTooLarge: the request body is larger than the server's
	// max_body. The host answers 413 if no response was started.
	ErrBodyTooLarge int32 = -7
	// ErrDenied: net_connect to a destination the app's outbound list does
	// not name, or that resolves to an address the host refuses
	// (loopback, link-local, metadata, unspecified, its own listeners)
	// unless the entry names that address literally.
	ErrDenied int32 = -8
	// ErrTimeout: a net_ call's timeout passed, or the call's deadline.
	ErrTimeout int32 = -9
	// ErrConnect: the destination is allowed but could not be reached:
	// no address, refused, unreachable, or a TLS handshake that failed
	// (certificate not trusted, wrong name).
	ErrConnect int32 = -10
	// ErrTooManyConns: the instance or the app holds its limit of open
	// connections (outbound_limit, outbound_app_limit).
	ErrTooManyConns int32 = -11
	// ErrBadHandle: not a connection this instance has open.
	ErrBadHandle int32 = -12
	// ErrLocked: file_lock: another instance or process holds a
	// conflicting lock (EAGAIN); try again later (SQLite's busy handler).
	ErrLocked int32 = -13
)

// Results of [FuncCheckPassword], as in mod_wsgi's check_password.
const (
	// AuthOK: the user exists and the password is right (True).
	AuthOK int32 = 1
	// AuthDenied: the user exists and the password is wrong (False).
	AuthDenied int32 = 0
	// AuthUnknownUser: no such user (None).
	AuthUnknownUser int32 = -1
)

// Levels of [FuncLog].
const (
	LogDebug int32 = 0 // LogDebug is the debug level of FuncLog.
	LogInfo  int32 = 1 // LogInfo is the info level of FuncLog.
	LogWarn  int32 = 2 // LogWarn is the warning level of FuncLog.
	LogError int32 = 3 // LogError is the error level of FuncLog.
)

// Environ keys the host always sets besides HTTP_* headers and the app's env.
const (
	KeyRequestMethod  = "REQUEST_METHOD"
	KeyScriptName     = "SCRIPT_NAME"  // KeyScriptName is the app's mount, "" for "/".
	KeyPathInfo       = "PATH_INFO"    // KeyPathInfo is the decoded path below the mount.
	KeyQueryString    = "QUERY_STRING" // KeyQueryString is the raw query, without "?".
	KeyRequestURI     = "REQUEST_URI"  // KeyRequestURI is the request target as sent.
	KeyServerName     = "SERVER_NAME"
	KeyServerPort     = "SERVER_PORT"
	KeyServerProtocol = "SERVER_PROTOCOL"
	KeyRemoteAddr     = "REMOTE_ADDR"
	KeyRemotePort     = "REMOTE_PORT"
	KeyRemoteUser     = "REMOTE_USER" // KeyRemoteUser is set only after auth.
	KeyAuthType       = "AUTH_TYPE"   // KeyAuthType is set only after auth.
	KeyContentType    = "CONTENT_TYPE"
	KeyContentLength  = "CONTENT_LENGTH"
	KeyURLScheme      = "wsgi.url_scheme"
	KeyHTTPS          = "HTTPS" // KeyHTTPS is "on" for TLS requests only.
	KeyRequestID      = "WASGI_REQUEST_ID"
	KeySite           = "WASGI_SITE"
	KeyApp            = "WASGI_APP"
	KeyABIVersion     = "WASGI_ABI"
)

// HeaderPrefix is the environ prefix of request headers: "User-Agent"
// becomes HTTP_USER_AGENT. Content-Type and Content-Length appear only as
// CONTENT_TYPE and CONTENT_LENGTH. Headers whose names hold '_' are dropped
// (as Apache 2.4 and nginx do) so that "X-Forwarded-For" cannot be forged
// as "X_Forwarded_For"; Proxy is dropped (httpoxy); Authorization is
// dropped unless the location sets pass_authorization.
const HeaderPrefix = "HTTP_"
