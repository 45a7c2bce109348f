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
	"bufio"
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
// the app's env). The map is shared: do not modify it. It is nil for a
// request that did not come from the host.
func Environ(r *http.Request) map[string]string {
	env, _ := r.Context().Value(environKey{}).(map[string]string)
	return env
}

// ScriptName returns SCRIPT_NAME, the URL prefix the app is mounted at
// ("" for "/"). Prefix it to build links inside the app.
func ScriptName(r *http.Request) string { return Environ(r)[abi.KeyScriptName] }

// PathInfo returns PATH_INFO, the decoded path below the app's mount.
func PathInfo(r *http.Request) string { return Environ(r)[abi.KeyPathInfo] }

// transport is the host side seen by the SDK: the ABI imports on wasip1,
// a fake in tests.
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
	req, err := newRequest(raw, &bodyReader{t: t})
	if err != nil {
		fmt.Fprintln(os.Stderr, "guest:", err)
		return 1
	}
	w := newResponseWriter(t)
	w.head = req.Method == http.MethodHead
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

// newRequest builds the *http.Request the handler sees from an encoded
// environ, the way net/http/cgi.RequestFromMap does for CGI.
func newRequest(raw []byte, body io.Reader) (*http.Request, error) {
	env := make(map[string]string, 32)
	header := make(http.Header, 16)
	err := abi.ParseEnviron(raw, func(k, v []byte) bool {
		key, val := string(k), string(v)
		env[key] = val
		if name, ok := strings.CutPrefix(key, abi.HeaderPrefix); ok {
			header.Add(textproto.CanonicalMIMEHeaderKey(strings.ReplaceAll(name, "_", "-")), val)
		}
		return true
	})
	if err != nil {
		return nil, err
	}
	r := &http.Request{
		Method:     env[abi.KeyRequestMethod],
		Header:     header,
		Host:       env["HTTP_HOST"],
		RequestURI: env[abi.KeyRequestURI],
		Body:       io.NopCloser(body),
	}
	if r.Method == "" {
		return nil, errors.New("environ has no REQUEST_METHOD")
	}
	r.Header.Del("Host")
	r.Proto = env[abi.KeyServerProtocol]
	var ok bool
	if r.ProtoMajor, r.ProtoMinor, ok = http.ParseHTTPVersion(r.Proto); !ok {
		r.Proto, r.ProtoMajor, r.ProtoMinor = "HTTP/1.1", 1, 1
	}
	if ct := env[abi.KeyContentType]; ct != "" {
		r.Header.Set("Content-Type", ct)
	}
	r.ContentLength = -1
	if cl := env[abi.KeyContentLength]; cl != "" {
		n, err := strconv.ParseInt(cl, 10, 64)
		if err != nil || n < 0 {
			return nil, fmt.Errorf("bad CONTENT_LENGTH %q", cl)
		}
		r.ContentLength = n
		if n == 0 {
			r.Body = http.NoBody
		}
	}
	r.URL = requestURL(env)
	if env[abi.KeyURLScheme] == "https" {
		r.URL.Scheme = "https"
	}
	if port := env[abi.KeyRemotePort]; port != "" {
		r.RemoteAddr = env[abi.KeyRemoteAddr] + ":" + port
		if strings.Contains(env[abi.KeyRemoteAddr], ":") {
			r.RemoteAddr = "[" + env[abi.KeyRemoteAddr] + "]:" + port
		}
	} else {
		r.RemoteAddr = env[abi.KeyRemoteAddr]
	}
	return r.WithContext(context.WithValue(context.Background(), environKey{}, env)), nil
}

// requestURL keeps the client's escaping (REQUEST_URI) when it decodes to
// the path the host routed, else rebuilds the URL from the decoded parts.
func requestURL(env map[string]string) *url.URL {
	p := env[abi.KeyScriptName] + env[abi.KeyPathInfo]
	if p == "" {
		p = "/"
	}
	if u, err := url.ParseRequestURI(env[abi.KeyRequestURI]); err == nil && u.Path == p {
		u.RawQuery = env[abi.KeyQueryString]
		return u
	}
	return &url.URL{Path: p, RawQuery: env[abi.KeyQueryString]}
}

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
	buf     *bufio.Writer
	hdr     []byte
}

// spare is the previous request's 32 KiB buffer: an instance serves one
// request at a time, so it is reused instead of allocated (and zeroed, and
// collected) per request. Only the buffer: the writer itself is never
// handed to another request.
var spare *bufio.Writer

func newResponseWriter(t transport) *responseWriter {
	w := &responseWriter{t: t, header: make(http.Header)}
	if spare != nil {
		w.buf, spare = spare, nil
		w.buf.Reset(hostWriter{w})
	} else {
		w.buf = bufio.NewWriterSize(hostWriter{w}, bufSize)
	}
	return w
}

// recycle ends w for good and offers its buffer to the next request: a
// goroutine the handler left behind that still writes to w gets an error,
// never a place in another request's response.
func (w *responseWriter) recycle() {
	buf := w.buf
	w.done, w.buf = true, nil
	spare = buf
}

func (w *responseWriter) Header() http.Header { return w.header }

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
	if !w.started && w.header.Get("Content-Type") == "" && w.buf.Buffered() == 0 && w.header.Get("Content-Encoding") == "" {
		w.header.Set("Content-Type", http.DetectContentType(p))
	}
	return w.buf.Write(p)
}

// Flush sends the status, headers and buffered body to the client now.
func (w *responseWriter) Flush() {
	if w.done {
		return
	}
	if w.status == 0 {
		w.WriteHeader(http.StatusOK)
	}
	if w.buf.Flush() == nil && w.commit() == nil {
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
	if !w.started && w.header.Get("Content-Length") == "" && !bodyless(w.status) && (w.buf.Buffered() > 0 || !w.head) {
		w.header.Set("Content-Length", strconv.Itoa(w.buf.Buffered()))
	}
	if err := w.buf.Flush(); err != nil {
		return err
	}
	return w.commit()
}

func bodyless(status int) bool {
	return status == http.StatusNoContent || status == http.StatusNotModified
}

// commit sends start_response once.
func (w *responseWriter) commit() error {
	if w.started {
		return nil
	}
	if w.failed {
		return errFailed
	}
	w.started = true
	w.hdr = w.hdr[:0]
	for k, vs := range w.header {
		for _, v := range vs {
			w.hdr = append(w.hdr, k...)
			w.hdr = append(w.hdr, ": "...)
			w.hdr = append(w.hdr, headerValue(v)...)
			w.hdr = append(w.hdr, "\r\n"...)
		}
	}
	text := http.StatusText(w.status)
	if text == "" {
		text = "status code " + strconv.Itoa(w.status)
	}
	if rc := w.t.startResponse(strconv.Itoa(w.status)+" "+text, w.hdr); rc != 0 {
		w.failed = true
		fmt.Fprintf(os.Stderr, "guest: start_response: %d\n", rc)
		return errFailed
	}
	return nil
}

// headerValue replaces CR and LF as net/http does, so a value taken from
// user input cannot inject headers (the host would refuse the whole answer).
func headerValue(v string) string {
	if strings.ContainsAny(v, "\r\n\x00") {
		return strings.NewReplacer("\r", " ", "\n", " ", "\x00", " ").Replace(v)
	}
	return v
}

// hostWriter is the bufio.Writer's sink: it commits the headers, then
// writes through body_write.
type hostWriter struct{ w *responseWriter }

func (h hostWriter) Write(p []byte) (int, error) {
	if err := h.w.commit(); err != nil {
		return 0, err
	}
	if bodyless(h.w.status) {
		return len(p), nil
	}
	if n := h.w.t.bodyWrite(p); n < 0 {
		h.w.failed = true
		return 0, fmt.Errorf("guest: body_write: %d", n)
	}
	return len(p), nil
}

// Interface guards.
var (
	_ http.ResponseWriter = (*responseWriter)(nil)
	_ http.Flusher        = (*responseWriter)(nil)
)

var errNotAllowed = errors.New("guest: environ_read not allowed outside a request")

// StripScriptName serves h with r.URL.Path set to PATH_INFO, the path below
// the app's mount, as http.StripPrefix does for a fixed prefix. A request
// for the mount itself ("/mysite", empty PATH_INFO) is redirected to
// "/mysite/", so relative links resolve below the mount.
func StripScriptName(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		env := Environ(r)
		pi := env[abi.KeyPathInfo]
		if pi == "" {
			target := env[abi.KeyScriptName] + "/"
			if q := env[abi.KeyQueryString]; q != "" {
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
