// Package guest is the Go SDK for wasgi apps: it runs an ordinary
// [http.Handler] inside a wasgi sandbox.
//
// An app is a Go main package built as a WASI reactor:
//
//	GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o app.wasm .
//
// A reactor's main function never runs; package init functions do, once per
// instance. So the handler is registered from init:
//
//	func init() { guest.Serve(http.HandlerFunc(hello)) }
//	func main() {}
//
// The SDK exports wasgi_handle, builds an [*http.Request] from the request
// environ and the streamed body, and implements [http.ResponseWriter] and
// [http.Flusher] over the host's start_response and body_write. Like
// net/http, it buffers the first 32 KiB of a response so that small answers
// get a Content-Length, sniffs a Content-Type when the handler sets none, and
// turns a handler panic into a 500.
//
// r.URL.Path is the whole path (SCRIPT_NAME + PATH_INFO), as net/http/cgi
// does; [ScriptName] and [PathInfo] give the split at the app's mount, and
// [Environ] the whole WSGI-style environ.
package guest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/textproto"
	"net/url"
	"os"
	"runtime/debug"
	"strconv"
	"strings"
	"unsafe"

	"github.com/wasgi/wasgi/abi"
)

// bufSize is the response buffer: a response that fits is sent with a
// Content-Length in one body_write call.
const bufSize = 32 << 10

var handler http.Handler

// Serve registers h as the app's handler. Call it from an init function: a
// reactor's main never runs. A later call replaces the handler.
func Serve(h http.Handler) { handler = h }

// HandleFunc registers f as the app's handler, like [Serve].
func HandleFunc(f func(http.ResponseWriter, *http.Request)) { Serve(http.HandlerFunc(f)) }

// Log writes msg to the host's structured log at level (abi.LogDebug ..
// abi.LogError), tagged with this app's site and app.
func Log(level int32, msg string) { hostLog(level, msg) }

type environKey struct{}

// Environ returns the request's environ (CGI/WSGI keys, HTTP_* headers and
// the app's env). The map is built on the first call for a request and
// shared by later ones: do not modify it. It is nil for a request that did
// not come from the host. [Getenv] reads one value without building it.
func Environ(r *http.Request) map[string]string {
	q := requestOf(r)
	if q == nil {
		return nil
	}
	if q.env == nil {
		q.env = make(map[string]string, q.entries)
		for s := q.raw; s != ""; {
			var k, v string
			k, v, s = nextEntry(s)
			q.env[k] = v
		}
	}
	return q.env
}

// Getenv returns the value of key in the request's environ, "" when absent,
// without building the map of [Environ].
func Getenv(r *http.Request, key string) string {
	q := requestOf(r)
	if q == nil {
		return ""
	}
	if q.env != nil {
		return q.env[key]
	}
	var val string
	for s := q.raw; s != ""; {
		var k, v string
		k, v, s = nextEntry(s)
		if k == key {
			val = v // the last one wins, as in the map
		}
	}
	return val
}

// ScriptName returns SCRIPT_NAME, the URL prefix the app is mounted at
// ("" for "/"). Prefix it to build links inside the app.
func ScriptName(r *http.Request) string {
	if q := requestOf(r); q != nil {
		return q.scriptName
	}
	return ""
}

// PathInfo returns PATH_INFO, the decoded path below the app's mount.
func PathInfo(r *http.Request) string {
	if q := requestOf(r); q != nil {
		return q.pathInfo
	}
	return ""
}

func requestOf(r *http.Request) *request {
	q, _ := r.Context().Value(environKey{}).(*request)
	return q
}

// transport is the host side seen by the SDK: the ABI imports on wasip1,
// a fake in tests.
//
// environ returns the request's environ in a buffer that nothing writes
// to afterwards: the request's strings (method, path, header values) are
// views of it, not copies.
type transport interface {
	environ() ([]byte, error)
	bodyRead(p []byte) int32
	startResponse(status string, headers []byte) int32
	bodyWrite(p []byte) int32
}

// serve runs one request through h and returns the wasgi_handle result.
func serve(t transport, h http.Handler) (code int32) {
	if h == nil {
		fmt.Fprintln(os.Stderr, "guest: no handler: call guest.Serve from an init function")
		return 1
	}
	raw, err := t.environ()
	if err != nil {
		fmt.Fprintln(os.Stderr, "guest:", err)
		return 1
	}
	q, req, err := newRequest(raw, t)
	if err != nil {
		fmt.Fprintln(os.Stderr, "guest:", err)
		return 1
	}
	w := &q.w
	w.start(t, req.Method == http.MethodHead)
	defer func() {
		if p := recover(); p != nil {
			if p == http.ErrAbortHandler {
				code = 1
				return
			}
			fmt.Fprintf(os.Stderr, "guest: panic serving %s: %v\n%s", req.URL.Path, p, debug.Stack())
			code = 1
		}
	}()
	h.ServeHTTP(w, req)
	if err := w.finish(); err != nil {
		return 1
	}
	w.recycle()
	return 0
}

// request is what one request needs beyond its *http.Request, in one
// allocation: the environ as one string (every value the handler sees is
// a substring of it, not a copy), the URL, the body reader, the response
// writer, and the request's context, which it is itself.
type request struct {
	context.Context
	raw                  string
	scriptName, pathInfo string
	env                  map[string]string // built by the first Environ call
	entries              int               // in raw
	url                  url.URL
	body                 bodyReader
	w                    responseWriter
	vals                 [8]string // the header values, when they fit
}

// Value makes the request its own context: r.Context() finds it without a
// context.WithValue.
func (q *request) Value(key any) any {
	if key == (environKey{}) {
		return q
	}
	return q.Context.Value(key)
}

// header is one HTTP_* entry of the environ, waiting for the header map.
type header struct{ name, value string }

// headers is newRequest's scratch list: an instance serves one request
// at a time.
var headers []header

// newRequest builds the *http.Request the handler sees from an encoded
// environ, the way net/http/cgi.RequestFromMap does for CGI. env is the
// request's own: every string of the request is a substring of it, and
// what lies past its length, up to its capacity, may be used for strings
// made from it.
//
// It is the SDK's hottest code, and runs as wasm, where every call, map
// operation, allocation and pointer store to the heap costs several times
// what it does natively: one pass over the environ without callbacks, the
// request filled on the stack and copied once, one map operation per
// header, the values of up to 8 headers inside the request's own
// allocation.
func newRequest(env []byte, t transport) (*request, *http.Request, error) {
	raw := stringOf(env)
	var req http.Request
	r := &req // on the stack until WithContext copies it
	var scriptName, pathInfo string
	var requestURI, query, remoteAddr, remotePort, contentType, contentLength string
	var https bool
	headers = headers[:0]
	entries := 0
	for s := raw; s != ""; entries++ {
		end := strings.IndexByte(s, 0)
		if end < 0 {
			return nil, nil, abi.ErrEnviron
		}
		entry := s[:end]
		s = s[end+1:]
		eq := strings.IndexByte(entry, '=')
		if eq <= 0 {
			return nil, nil, abi.ErrEnviron
		}
		k, v := entry[:eq], entry[eq+1:]
		if len(k) > len(abi.HeaderPrefix) && k[:len(abi.HeaderPrefix)] == abi.HeaderPrefix {
			if name := k[len(abi.HeaderPrefix):]; name == "HOST" {
				r.Host = v
			} else {
				headers = append(headers, header{name, v})
			}
			continue
		}
		switch k {
		case abi.KeyRequestMethod:
			r.Method = v
		case abi.KeyScriptName:
			scriptName = v
		case abi.KeyPathInfo:
			pathInfo = v
		case abi.KeyQueryString:
			query = v
		case abi.KeyRequestURI:
			requestURI = v
		case abi.KeyServerProtocol:
			r.Proto = v
		case abi.KeyRemoteAddr:
			remoteAddr = v
		case abi.KeyRemotePort:
			remotePort = v
		case abi.KeyContentType:
			contentType = v
		case abi.KeyContentLength:
			contentLength = v
		case abi.KeyURLScheme:
			https = v == "https"
		}
	}
	if r.Method == "" {
		return nil, nil, errors.New("environ has no REQUEST_METHOD")
	}
	q := &request{Context: context.Background(), raw: raw, entries: entries, scriptName: scriptName, pathInfo: pathInfo}
	q.body.t = t
	r.RequestURI = requestURI
	n := len(headers)
	if contentType != "" {
		n++
	}
	// One backing array for every header's value: cut to length 1 each, so
	// a handler's Header().Add copies rather than overwrites a neighbour.
	// Environ keys are unique, and so are the names made from them: one
	// assignment per header, no lookup first.
	vals := q.vals[:]
	if n > len(vals) {
		vals = make([]string, n)
	}
	r.Header = make(http.Header, n)
	for i, h := range headers {
		vals[i] = h.value
		r.Header[headerName(h.name)] = vals[i : i+1 : i+1]
	}
	if contentType != "" {
		vals[n-1] = contentType
		r.Header["Content-Type"] = vals[n-1 : n : n]
	}
	var ok bool
	if r.ProtoMajor, r.ProtoMinor, ok = http.ParseHTTPVersion(r.Proto); !ok {
		r.Proto, r.ProtoMajor, r.ProtoMinor = "HTTP/1.1", 1, 1
	}
	r.Body = &q.body
	r.ContentLength = -1
	if contentLength != "" {
		n, err := strconv.ParseInt(contentLength, 10, 64)
		if err != nil || n < 0 {
			return nil, nil, fmt.Errorf("bad CONTENT_LENGTH %q", contentLength)
		}
		r.ContentLength = n
		if n == 0 {
			r.Body = http.NoBody
		}
	}
	r.URL = q.requestURL(requestURI, query)
	if https {
		r.URL.Scheme = "https"
	}
	r.RemoteAddr = remoteAddr
	if remotePort != "" {
		r.RemoteAddr = joinHostPort(env[len(env):cap(env)], remoteAddr, remotePort)
	}
	return q, r.WithContext(q), nil
}

// joinHostPort is net.JoinHostPort, written into spare when it fits
// there: spare is never written again, so the string can be a view of it.
func joinHostPort(spare []byte, host, port string) string {
	v6 := strings.IndexByte(host, ':') >= 0
	if len(host)+len(port)+3 > cap(spare) {
		if v6 {
			return "[" + host + "]:" + port
		}
		return host + ":" + port
	}
	b := spare[:0]
	if v6 {
		b = append(b, '[')
	}
	b = append(b, host...)
	if v6 {
		b = append(b, ']')
	}
	b = append(b, ':')
	b = append(b, port...)
	return stringOf(b)
}

// nextEntry splits the first entry off an environ newRequest has
// checked.
func nextEntry(s string) (k, v, rest string) {
	entry, rest, _ := strings.Cut(s, "\x00")
	k, v, _ = strings.Cut(entry, "=")
	return k, v, rest
}

// stringOf views b as a string: b must never be written to again.
func stringOf(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	return unsafe.String(unsafe.SliceData(b), len(b))
}

// headerNames caches the canonical header name of each HTTP_* key seen
// ("USER_AGENT" -> "User-Agent"): browsers send the same dozen headers on
// every request. Bounded, since clients choose header names.
var headerNames = map[string]string{}

const maxHeaderNames = 256

func headerName(cgi string) string {
	if name, ok := headerNames[cgi]; ok {
		return name
	}
	name := textproto.CanonicalMIMEHeaderKey(strings.ReplaceAll(cgi, "_", "-"))
	if len(headerNames) < maxHeaderNames {
		headerNames[strings.Clone(cgi)] = name // cgi is a substring of the whole environ
	}
	return name
}

// requestURL keeps the client's escaping (REQUEST_URI) when it decodes to
// the path the host routed, else rebuilds the URL from the decoded parts.
func (q *request) requestURL(requestURI, query string) *url.URL {
	u := &q.url
	rawPath, rest, hasQuery := strings.Cut(requestURI, "?")
	// Most paths need no escaping at all: then the URL is the raw path,
	// and parsing it would only allocate.
	if plainPath(rawPath) && len(rawPath) == len(q.scriptName)+len(q.pathInfo) &&
		strings.HasPrefix(rawPath, q.scriptName) && strings.HasSuffix(rawPath, q.pathInfo) {
		u.Path, u.RawQuery, u.ForceQuery = rawPath, query, hasQuery && rest == ""
		return u
	}
	p := q.scriptName + q.pathInfo
	if p == "" {
		p = "/"
	}
	if parsed, err := url.ParseRequestURI(requestURI); err == nil && parsed.Path == p {
		parsed.RawQuery = query
		return parsed
	}
	u.Path, u.RawQuery = p, query
	return u
}

// plainPath reports whether p is an absolute path of bytes that a URL path
// holds as they are (url.URL would neither decode nor escape any of them).
func plainPath(p string) bool {
	if p == "" || p[0] != '/' {
		return false
	}
	for i := 0; i < len(p); i++ {
		if !plainPathBytes[p[i]] {
			return false
		}
	}
	return true
}

var plainPathBytes = func() (t [256]bool) {
	for c := range t {
		t[c] = 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' ||
			strings.IndexByte("-_.~/$&+,:;=@", byte(c)) >= 0
	}
	return t
}()

// bodyReader streams the request body through body_read.
type bodyReader struct {
	t   transport
	err error
}

func (b *bodyReader) Read(p []byte) (int, error) {
	if b.err != nil {
		return 0, b.err
	}
	if len(p) == 0 {
		return 0, nil
	}
	n := b.t.bodyRead(p)
	switch {
	case n > 0:
		return int(n), nil
	case n == 0:
		b.err = io.EOF
	case n == abi.ErrBodyTooLarge:
		b.err = errors.New("http: request body too large")
	default:
		b.err = fmt.Errorf("guest: body_read: %d", n)
	}
	return 0, b.err
}

// Close is a no-op: the host owns the connection.
func (b *bodyReader) Close() error { return nil }

// responseWriter implements http.ResponseWriter over start_response and
// body_write.
type responseWriter struct {
	t       transport
	header  http.Header
	status  int
	started bool // start_response was sent
	failed  bool // a host call failed: drop further output
	done    bool // the request is over: refuse further output
	head    bool // a HEAD request
	out     *buffers
	length  int // Content-Length to send; -1: none
}

// buffers are a response's: its body buffer (cap bufSize) and its encoded
// headers.
type buffers struct {
	body, hdr []byte
}

// spare are the previous request's buffers: an instance serves one request
// at a time, so they are reused instead of allocated (and zeroed, and
// collected) per request. Only the buffers: a writer itself is never
// handed to another request.
var spare *buffers

func (w *responseWriter) start(t transport, head bool) {
	w.t, w.head, w.length = t, head, -1 // the header map is made by Header
	if spare != nil {
		w.out, spare = spare, nil
		w.out.body = w.out.body[:0]
	} else {
		w.out = &buffers{body: make([]byte, 0, bufSize)}
	}
}

// recycle ends w for good and offers its buffers to the next request: a
// goroutine the handler left behind that still writes to w gets an error,
// never a place in another request's response.
func (w *responseWriter) recycle() {
	out := w.out
	w.done, w.out = true, nil
	spare = out
}

// Header makes the header map on its first call: many handlers never set
// a header, and a map is one of the dearest things to make in wasm.
func (w *responseWriter) Header() http.Header {
	if w.header == nil {
		w.header = make(http.Header)
	}
	return w.header
}

func (w *responseWriter) WriteHeader(code int) {
	if w.status != 0 || code < 100 || code > 999 {
		return
	}
	if code >= 100 && code < 200 {
		return // informational answers are the host's business
	}
	w.status = code
}

func (w *responseWriter) Write(p []byte) (int, error) {
	if w.status == 0 {
		w.WriteHeader(http.StatusOK)
	}
	if w.failed || w.done {
		return 0, errFailed
	}
	body := w.out.body
	if len(body)+len(p) <= cap(body) {
		w.out.body = append(body, p...)
		return len(p), nil
	}
	if err := w.flushBuffer(); err != nil {
		return 0, err
	}
	if len(p) >= bufSize { // no use copying it first
		if err := w.send(p); err != nil {
			return 0, err
		}
		return len(p), nil
	}
	w.out.body = append(w.out.body, p...)
	return len(p), nil
}

// ReadFrom reads straight into the response buffer: io.Copy(w, r.Body)
// then copies the body once, with no buffer of its own.
func (w *responseWriter) ReadFrom(src io.Reader) (int64, error) {
	if w.status == 0 {
		w.WriteHeader(http.StatusOK)
	}
	var total int64
	for {
		if w.failed || w.done {
			return total, errFailed
		}
		if len(w.out.body) == cap(w.out.body) {
			if err := w.flushBuffer(); err != nil {
				return total, err
			}
		}
		body := w.out.body
		n, err := src.Read(body[len(body):cap(body)])
		w.out.body = body[:len(body)+n]
		total += int64(n)
		if err == io.EOF {
			return total, nil
		}
		if err != nil {
			return total, err
		}
	}
}

// Flush sends the status, headers and buffered body to the client now.
func (w *responseWriter) Flush() {
	if w.done {
		return
	}
	if w.status == 0 {
		w.WriteHeader(http.StatusOK)
	}
	if w.flushBuffer() == nil && w.commit(nil) == nil {
		w.t.bodyWrite(nil)
	}
}

var errFailed = errors.New("guest: response failed")

// finish ends the response after the handler returned.
func (w *responseWriter) finish() error {
	if w.status == 0 {
		w.WriteHeader(http.StatusOK)
	}
	// A small answer gets its length, as net/http does, but not a HEAD
	// that wrote nothing: "Content-Length: 0" would say the resource is empty.
	n := len(w.out.body)
	if !w.started && first(w.header["Content-Length"]) == "" && !bodyless(w.status) && (n > 0 || !w.head) {
		w.length = n
	}
	if err := w.flushBuffer(); err != nil {
		return err
	}
	return w.commit(nil)
}

func bodyless(status int) bool {
	return status == http.StatusNoContent || status == http.StatusNotModified
}

// flushBuffer sends what the buffer holds, if anything.
func (w *responseWriter) flushBuffer() error {
	if w.failed {
		return errFailed
	}
	if len(w.out.body) == 0 {
		return nil
	}
	err := w.send(w.out.body)
	w.out.body = w.out.body[:0]
	return err
}

// send commits the headers, then writes p through body_write.
func (w *responseWriter) send(p []byte) error {
	if err := w.commit(p); err != nil {
		return err
	}
	if bodyless(w.status) {
		return nil
	}
	if n := w.t.bodyWrite(p); n < 0 {
		w.failed = true
		return fmt.Errorf("guest: body_write: %d", n)
	}
	return nil
}

// commit sends start_response once. body is the start of the body, from
// which a Content-Type is sniffed when the handler set none, as net/http
// does.
func (w *responseWriter) commit(body []byte) error {
	if w.started {
		return nil
	}
	if w.failed {
		return errFailed
	}
	w.started = true
	hdr := w.out.hdr[:0]
	typed := false // a Content-Type or Content-Encoding is set: no sniffing
	for k, vs := range w.header {
		for _, v := range vs {
			hdr = appendHeader(hdr, k, headerValue(v))
		}
		if (k == "Content-Type" || k == "Content-Encoding") && first(vs) != "" {
			typed = true
		}
	}
	if len(body) > 0 && !bodyless(w.status) && !typed {
		hdr = appendHeader(hdr, "Content-Type", http.DetectContentType(body))
	}
	if w.length >= 0 {
		hdr = append(hdr, "Content-Length: "...)
		hdr = strconv.AppendInt(hdr, int64(w.length), 10)
		hdr = append(hdr, "\r\n"...)
	}
	w.out.hdr = hdr
	if rc := w.t.startResponse(statusLine(w.status), hdr); rc != 0 {
		w.failed = true
		fmt.Fprintf(os.Stderr, "guest: start_response: %d\n", rc)
		return errFailed
	}
	return nil
}

// first is a header's first value, as http.Header.Get returns it for a
// canonical name, without canonicalising the name again.
func first(vs []string) string {
	if len(vs) == 0 {
		return ""
	}
	return vs[0]
}

func appendHeader(hdr []byte, k, v string) []byte {
	hdr = append(hdr, k...)
	hdr = append(hdr, ": "...)
	hdr = append(hdr, v...)
	return append(hdr, "\r\n"...)
}

// statusLines caches "200 OK" and friends, built once per code.
var statusLines [1000]string

func statusLine(code int) string {
	if s := statusLines[code]; s != "" {
		return s
	}
	text := http.StatusText(code)
	if text == "" {
		text = "status code " + strconv.Itoa(code)
	}
	statusLines[code] = strconv.Itoa(code) + " " + text
	return statusLines[code]
}

// headerValue replaces CR and LF as net/http does, so a value taken from
// user input cannot inject headers (the host would refuse the whole answer).
func headerValue(v string) string {
	for i := 0; i < len(v); i++ {
		if c := v[i]; c == '\r' || c == '\n' || c == 0 {
			return strings.NewReplacer("\r", " ", "\n", " ", "\x00", " ").Replace(v)
		}
	}
	return v
}

// Interface guards.
var (
	_ http.ResponseWriter = (*responseWriter)(nil)
	_ http.Flusher        = (*responseWriter)(nil)
	_ io.ReaderFrom       = (*responseWriter)(nil)
	_ context.Context     = (*request)(nil)
)

var errNotAllowed = errors.New("guest: environ_read not allowed outside a request")

// StripScriptName serves h with r.URL.Path set to PATH_INFO, the path below
// the app's mount, as http.StripPrefix does for a fixed prefix. A request
// for the mount itself ("/mysite", empty PATH_INFO) is redirected to
// "/mysite/", so relative links resolve below the mount.
func StripScriptName(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		pi := PathInfo(r)
		if pi == "" {
			target := ScriptName(r) + "/"
			if q := Getenv(r, abi.KeyQueryString); q != "" {
				target += "?" + q
			}
			http.Redirect(w, r, target, http.StatusMovedPermanently)
			return
		}
		r2 := new(http.Request)
		*r2 = *r
		r2.URL = new(url.URL)
		*r2.URL = *r.URL
		r2.URL.Path = pi
		r2.URL.RawPath = ""
		h.ServeHTTP(w, r2)
	})
}
