package sandbox

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/rs/zerolog"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/experimental/wazerotest"

	"github.com/wasgi/wasgi/abi"
)

// fakeGuest is one page of guest memory and a request bound to a context,
// to drive the host functions directly, the way wazero tests its WASI
// functions on the exact bytes they write.
type fakeGuest struct {
	mem  *wazerotest.Memory
	mod  *wazerotest.Module
	ctx  context.Context
	call *Call
	rec  *httptest.ResponseRecorder
}

func newFakeGuest(environ string, body io.Reader) *fakeGuest {
	mem := wazerotest.NewFixedMemory(wazerotest.PageSize)
	rec := httptest.NewRecorder()
	c := &Call{Environ: []byte(environ), Body: body, W: HTTPResponse(rec), Log: zerolog.Nop(), phase: phaseHandle}
	return &fakeGuest{mem: mem, mod: wazerotest.NewModule(mem), ctx: withState(context.Background(), &instanceState{call: c}), call: c, rec: rec}
}

// invoke calls a host function and returns its i32 result, or the trap.
func (g *fakeGuest) invoke(fn api.GoModuleFunc, params ...uint64) (res int32, trap error) {
	defer func() {
		if r := recover(); r != nil {
			trap = r.(error)
		}
	}()
	stack := make([]uint64, 16) // more than any import takes; the rest are zeros
	copy(stack, params)
	fn(g.ctx, g.mod, stack)
	return api.DecodeI32(stack[0]), nil
}

func (g *fakeGuest) put(off int, s string) (uint64, uint64) {
	copy(g.mem.Bytes[off:], s)
	return uint64(off), uint64(len(s))
}

func TestEnvironRead(t *testing.T) {
	const env = "REQUEST_METHOD=GET\x00PATH_INFO=/caf\xc3\xa9\x00"
	g := newFakeGuest(env, nil)
	for i := range g.mem.Bytes[:128] {
		g.mem.Bytes[i] = '.'
	}
	if n, _ := g.invoke(environLen); n != int32(len(env)) {
		t.Fatalf("environ_len = %d, want %d", n, len(env))
	}
	// Too small: nothing written, the full length returned.
	if n, _ := g.invoke(environRead, 8, 10); n != int32(len(env)) {
		t.Fatalf("environ_read small = %d", n)
	}
	if got := string(g.mem.Bytes[:64]); got != strings.Repeat(".", 64) {
		t.Fatalf("environ_read wrote into a too small buffer: %q", got)
	}
	// Big enough: exactly the environ at buf, nothing after it.
	if n, _ := g.invoke(environRead, 8, 100); n != int32(len(env)) {
		t.Fatalf("environ_read = %d", n)
	}
	want := "........" + env + "."
	if got := string(g.mem.Bytes[:len(want)]); got != want {
		t.Fatalf("memory = %q, want %q", got, want)
	}
}

func TestOutOfBoundsTraps(t *testing.T) {
	const page = wazerotest.PageSize
	cases := []struct {
		name   string
		fn     api.GoModuleFunc
		params []uint64
	}{
		{"environ_read ptr", environRead, []uint64{page, 1}},
		{"environ_read len", environRead, []uint64{page - 4, 5}},
		{"environ_read wrap", environRead, []uint64{16, 0xFFFF_FFF0}},
		{"body_read", bodyRead, []uint64{page + 10, 10}},
		{"start_response status", startResponse, []uint64{0xFFFF_FFFF, 2, 0, 0}},
		{"start_response headers", startResponse, []uint64{0, 6, page - 1, 2}},
		{"body_write", bodyWrite, []uint64{page, 1}},
		{"auth_user", authUser, []uint64{page * 2, 1}},
		{"auth_password", authPassword, []uint64{page - 1, 2}},
		{"auth_groups", authGroups, []uint64{page, 1}},
		{"log", logFunc, []uint64{1, page - 1, 2}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			g := newFakeGuest("A=1\x00", strings.NewReader("body"))
			g.put(0, "200 OK")
			_, trap := g.invoke(tc.fn, tc.params...)
			if !errors.Is(trap, errOutOfBounds) {
				t.Fatalf("trap = %v, want out of bounds", trap)
			}
			if g.call.Started() {
				t.Fatal("a trapped call started the response")
			}
		})
	}
}

func TestStartResponse(t *testing.T) {
	cases := []struct {
		name, status, headers string
		want                  int32
		wantCode              int
		wantHeader            http.Header
	}{
		{"ok", "200 OK", "Content-Type: text/plain\r\nX-A: 1\r\nX-A: 2\r\n", 0, 200, http.Header{"Content-Type": {"text/plain"}, "X-A": {"1", "2"}}},
		{"replaces a host header", "200 OK", "x-request-id: guest\r\n", 0, 200, http.Header{"X-Request-Id": {"guest"}}},
		{"bare code", "404", "", 0, 404, http.Header{}},
		{"no final CRLF", "201 Created", "Location: /x", 0, 201, http.Header{"Location": {"/x"}}},
		{"blank line at end", "200 OK", "A: b\r\n\r\n", 0, 200, http.Header{"A": {"b"}}},
		{"ows trimmed", "200 OK", "A:   b \t\r\n", 0, 200, http.Header{"A": {"b"}}},
		{"hop-by-hop dropped", "200 OK", "Connection: close\r\nTransfer-Encoding: chunked\r\nKeep-Alive: 1\r\nX: y\r\n", 0, 200, http.Header{"X": {"y"}}},
		{"status 1xx", "101 Switching Protocols", "", abi.ErrInvalidStatus, 0, nil},
		{"status 600", "600 Nope", "", abi.ErrInvalidStatus, 0, nil},
		{"status letters", "2OO OK", "", abi.ErrInvalidStatus, 0, nil},
		{"status no space", "200OK", "", abi.ErrInvalidStatus, 0, nil},
		{"status newline", "200 OK\r\nX: 1", "", abi.ErrInvalidStatus, 0, nil},
		{"status empty", "", "", abi.ErrInvalidStatus, 0, nil},
		{"header CR injection", "200 OK", "A: 1\rSet-Cookie: x\r\n", abi.ErrInvalidHeader, 0, nil},
		{"header LF injection", "200 OK", "A: 1\nSet-Cookie: x\r\n", abi.ErrInvalidHeader, 0, nil},
		{"header NUL", "200 OK", "A: 1\x002\r\n", abi.ErrInvalidHeader, 0, nil},
		{"header no colon", "200 OK", "Nope\r\n", abi.ErrInvalidHeader, 0, nil},
		{"header space in name", "200 OK", "Bad Name: 1\r\n", abi.ErrInvalidHeader, 0, nil},
		{"header empty name", "200 OK", ": 1\r\n", abi.ErrInvalidHeader, 0, nil},
		{"blank line in middle", "200 OK", "A: 1\r\n\r\nB: 2\r\n", abi.ErrInvalidHeader, 0, nil},
		{"bad content-length", "200 OK", "content-length: 1x\r\n", abi.ErrInvalidHeader, 0, nil},
		{"two content-lengths", "200 OK", "Content-Length: 5\r\nContent-Length: 0\r\n", abi.ErrInvalidHeader, 0, nil},
		{"too many headers", "200 OK", strings.Repeat("A: 1\r\n", maxHeaderRows+1), abi.ErrInvalidHeader, 0, nil},
		{"non-ASCII name", "200 OK", "Ä: 1\r\n", abi.ErrInvalidHeader, 0, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			g := newFakeGuest("", nil)
			if tc.name == "replaces a host header" {
				g.rec.Header().Set("X-Request-Id", "host")
			}
			sp, sl := g.put(0, tc.status)
			hp, hl := g.put(1024, tc.headers)
			got, trap := g.invoke(startResponse, sp, sl, hp, hl)
			if trap != nil {
				t.Fatal(trap)
			}
			if got != tc.want {
				t.Fatalf("start_response = %d, want %d", got, tc.want)
			}
			if tc.want != 0 {
				if g.call.Started() || len(g.rec.Header()) != 0 {
					t.Fatalf("a refused start_response changed the response: %v", g.rec.Header())
				}
				return
			}
			if g.rec.Code != tc.wantCode || g.call.Status() != tc.wantCode {
				t.Fatalf("status = %d, want %d", g.rec.Code, tc.wantCode)
			}
			for k, v := range tc.wantHeader {
				if strings.Join(g.rec.Header()[k], ",") != strings.Join(v, ",") {
					t.Fatalf("header %s = %q, want %q", k, g.rec.Header()[k], v)
				}
			}
			if len(g.rec.Header()) != len(tc.wantHeader) {
				t.Fatalf("headers = %v, want %v", g.rec.Header(), tc.wantHeader)
			}
			// A second call is refused and changes nothing.
			sp2, sl2 := g.put(3000, "500 Oops")
			if got, _ := g.invoke(startResponse, sp2, sl2, 0, 0); got != abi.ErrAlreadyStarted {
				t.Fatalf("second start_response = %d", got)
			}
			if g.rec.Code != tc.wantCode {
				t.Fatal("second start_response changed the status")
			}
		})
	}
}

func TestBodyWrite(t *testing.T) {
	g := newFakeGuest("", nil)
	bp, bl := g.put(100, "hello")
	if got, _ := g.invoke(bodyWrite, bp, bl); got != abi.ErrNotStarted {
		t.Fatalf("body_write before start = %d", got)
	}
	sp, sl := g.put(0, "200 OK")
	g.invoke(startResponse, sp, sl, 0, 0)
	if got, _ := g.invoke(bodyWrite, bp, bl); got != 5 {
		t.Fatalf("body_write = %d", got)
	}
	if got, _ := g.invoke(bodyWrite, 0, 0); got != 0 || !g.rec.Flushed {
		t.Fatalf("body_write(0) = %d, flushed %v", got, g.rec.Flushed)
	}
	if g.rec.Body.String() != "hello" || g.call.Written() != 5 {
		t.Fatalf("body = %q (%d)", g.rec.Body.String(), g.call.Written())
	}
}

func TestBodyRead(t *testing.T) {
	g := newFakeGuest("", iotest.OneByteReader(strings.NewReader("abc")))
	var got []byte
	for {
		n, trap := g.invoke(bodyRead, 10, 100)
		if trap != nil {
			t.Fatal(trap)
		}
		if n <= 0 {
			if n != 0 {
				t.Fatalf("body_read = %d", n)
			}
			break
		}
		got = append(got, g.mem.Bytes[10:10+n]...)
	}
	if string(got) != "abc" {
		t.Fatalf("body = %q", got)
	}

	req := httptest.NewRequest("POST", "/", bytes.NewReader(make([]byte, 100)))
	big := newFakeGuest("", HTTPBody(httptest.NewRecorder(), req, 10))
	var last int32
	for range 20 {
		if last, _ = big.invoke(bodyRead, 0, 64); last <= 0 {
			break
		}
	}
	if last != abi.ErrBodyTooLarge || !big.call.BodyTooLarge() {
		t.Fatalf("over max_body: body_read = %d", last)
	}

	failing := newFakeGuest("", iotest.ErrReader(errors.New("reset")))
	if n, _ := failing.invoke(bodyRead, 0, 64); n != abi.ErrIO {
		t.Fatalf("broken body: body_read = %d", n)
	}
}

func TestOutsideRequest(t *testing.T) {
	mem := wazerotest.NewFixedMemory(wazerotest.PageSize)
	mod := wazerotest.NewModule(mem)
	ctx := context.Background()
	for name, f := range hostFuncs {
		if name == abi.FuncLog {
			continue
		}
		stack := make([]uint64, len(f.params)+1)
		copy(stack, []uint64{0, 4, 0, 4})
		f.fn(ctx, mod, stack)
		if got := api.DecodeI32(stack[0]); got != abi.ErrNotAllowed {
			t.Errorf("%s outside a request = %d, want ErrNotAllowed", name, got)
		}
	}
}

func FuzzStartResponse(f *testing.F) {
	f.Add([]byte("200 OK"), []byte("Content-Type: text/html\r\n"))
	f.Add([]byte("404"), []byte("A: 1\r\n\r\n"))
	f.Add([]byte("200 OK"), []byte("A: 1\rB: 2\r\n"))
	f.Fuzz(func(t *testing.T, status, headers []byte) {
		if len(status) > 4000 || len(headers) > 60000 {
			return
		}
		g := newFakeGuest("", nil)
		sp, sl := g.put(0, string(status))
		hp, hl := g.put(4096, string(headers))
		got, trap := g.invoke(startResponse, sp, sl, hp, hl)
		if trap != nil {
			t.Fatal(trap)
		}
		if got != 0 {
			if g.call.Started() || len(g.rec.Header()) != 0 {
				t.Fatal("refused call changed the response")
			}
			return
		}
		for k, vs := range g.rec.Header() {
			if hopByHop(k) {
				t.Fatalf("hop-by-hop header %s passed", k)
			}
			for _, v := range vs {
				if strings.ContainsAny(v, "\r\n\x00") || strings.ContainsAny(k, "\r\n\x00 :") {
					t.Fatalf("header injection passed: %q: %q", k, v)
				}
			}
		}
	})
}

func TestTailWriter(t *testing.T) {
	var out strings.Builder
	w := newTailWriter(zerolog.New(&out), zerolog.WarnLevel, "stderr")
	for i := range 2000 {
		fmt.Fprintf(w, "line %d\n", i)
	}
	tail := w.String()
	if len(tail) != tailSize || !strings.HasSuffix(tail, "line 1999\n") {
		t.Fatalf("tail (%d bytes) ends %q", len(tail), tail[len(tail)-20:])
	}
	w2 := newTailWriter(zerolog.New(&out), zerolog.WarnLevel, "stderr")
	io.WriteString(w2, "short")
	if w2.String() != "short" {
		t.Fatalf("short tail %q", w2.String())
	}
	io.WriteString(w2, strings.Repeat("y", 3*tailSize)+"end")
	if s := w2.String(); len(s) != tailSize || !strings.HasSuffix(s, "yend") {
		t.Fatalf("big write tail %d %q", len(s), s[len(s)-5:])
	}
}

func TestGuestTextSanitized(t *testing.T) {
	var out strings.Builder
	w := newTailWriter(zerolog.New(&out), zerolog.WarnLevel, "stdout")
	io.WriteString(w, "ok\rforged\x1b[31m\tx\n")
	if got := out.String(); !strings.Contains(got, `ok\\x0dforged\\x1b[31m\tx`) {
		t.Fatalf("log %q", got)
	}
	// A multi-line log call (a traceback) is one event with its newlines;
	// each continuation line is indented, and still sanitised.
	if got := sanitizeLines([]byte("Traceback:\n  File \"x\"\n{\"level\":\"error\"}\x1b\n")); got != "Traceback:\n\t  File \"x\"\n\t{\"level\":\"error\"}\\x1b" {
		t.Fatalf("sanitizeLines = %q", got)
	}
}

// FuzzCGIResponse feeds arbitrary program output, in arbitrary pieces, to
// the CGI response parser: it never panics, and what it sends is a valid
// response (one status, headers without CR/LF/NUL, at most one length).
func FuzzCGIResponse(f *testing.F) {
	f.Add([]byte("Content-Type: text/plain\n\nhello"), uint8(3))
	f.Add([]byte("Status: 404 Not Found\r\nContent-Type: text/html\r\n\r\n<p>x"), uint8(7))
	f.Add([]byte("Location: /x\n\n"), uint8(1))
	f.Add([]byte("Content-Length: 1\nContent-Length: 2\nContent-Type: a\n\n"), uint8(5))
	f.Add([]byte("X: 1\rSet-Cookie: a\n\n"), uint8(2))
	f.Fuzz(func(t *testing.T, out []byte, step uint8) {
		rec := httptest.NewRecorder()
		r := &cgiResponse{w: HTTPResponse(rec)}
		n := int(step%64) + 1
		for len(out) > 0 {
			k := min(n, len(out))
			if m, _ := r.Write(out[:k]); m != k {
				t.Fatalf("short write %d of %d", m, k)
			}
			out = out[k:]
		}
		err := r.finish()
		if !r.started {
			if err == nil {
				t.Fatal("no response and no error")
			}
			return
		}
		if r.status < 200 || r.status > 599 || rec.Code != r.status {
			t.Fatalf("status %d / %d", r.status, rec.Code)
		}
		for k, vs := range rec.Header() {
			if hopByHop(k) {
				t.Fatalf("hop-by-hop %s passed", k)
			}
			for _, v := range vs {
				if strings.ContainsAny(k+v, "\r\n\x00") {
					t.Fatalf("bad header %q: %q", k, v)
				}
			}
		}
		if len(rec.Header().Values("Content-Length")) > 1 {
			t.Fatal("two Content-Lengths")
		}
	})
}

// FuzzHostFunctions drives every host function with arbitrary arguments
// and memory, as a hostile guest would: each call either answers or traps
// with an out-of-bounds error; nothing else may panic, and nothing is
// written outside the buffer the guest named.
func FuzzHostFunctions(f *testing.F) {
	f.Add(uint8(0), uint64(0), uint64(16), uint64(100), uint64(8), []byte("200 OK"))
	f.Add(uint8(3), uint64(0xffff_fff0), uint64(0x20), uint64(0), uint64(0), []byte{})
	f.Add(uint8(4), uint64(10), uint64(0xffff_ffff), uint64(1), uint64(1), []byte("x"))
	names := make([]string, 0, len(hostFuncs))
	for n := range hostFuncs {
		names = append(names, n)
	}
	sort.Strings(names)
	f.Fuzz(func(t *testing.T, which uint8, a, b, c, d uint64, mem []byte) {
		name := names[int(which)%len(names)]
		g := newFakeGuest("REQUEST_METHOD=GET\x00", strings.NewReader("body"))
		copy(g.mem.Bytes, mem)
		before := bytes.Clone(g.mem.Bytes)
		g.call.User, g.call.Password = "u", "p"
		_, trap := g.invoke(hostFuncs[name].fn, a, b, c, d)
		if trap != nil && !errors.Is(trap, errOutOfBounds) {
			t.Fatalf("%s: %v", name, trap)
		}
		// Only environ_read, body_read, auth_user, auth_password write, and
		// only into [a, a+b).
		for i := range g.mem.Bytes {
			if g.mem.Bytes[i] != before[i] && (uint64(i) < a&0xffff_ffff || uint64(i) >= a&0xffff_ffff+b&0xffff_ffff) {
				t.Fatalf("%s wrote byte %d outside its buffer [%d, +%d)", name, i, a, b)
			}
		}
	})
}
