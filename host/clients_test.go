package host

import (
	"bufio"
	"crypto/tls"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// rawExchange writes raw bytes to the host and returns the first response
// (status code, or 0 when the connection was closed without one).
func rawExchange(t *testing.T, th *testHost, raw string) (int, string) {
	t.Helper()
	conn, err := net.Dial("tcp", strings.TrimPrefix(th.url, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	io.WriteString(conn, raw)
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestHostileClients sends malformed and smuggling-shaped requests: each
// gets a 4xx (or a closed connection), never reaches a guest twice, and
// the host keeps serving.
func TestHostileClients(t *testing.T) {
	th := startHost(t, twoSites)
	cases := []struct {
		name, raw string
		want      []int
	}{
		// Refused (400) and the connection closed, so the smuggled second
		// request is never served (TestAmbiguousFraming has more).
		{"CL and TE together", "POST /echo HTTP/1.1\r\nHost: alpha.test\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /panic HTTP/1.1\r\nHost: alpha.test\r\n\r\n", []int{200, 400}},
		{"duplicate Content-Length", "POST /echo HTTP/1.1\r\nHost: alpha.test\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!", []int{400}},
		{"bad Content-Length", "POST /echo HTTP/1.1\r\nHost: alpha.test\r\nContent-Length: -1\r\n\r\n", []int{400}},
		{"invalid chunked", "POST /echo HTTP/1.1\r\nHost: alpha.test\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n", []int{200, 400, 500}},
		{"unknown TE", "POST /echo HTTP/1.1\r\nHost: alpha.test\r\nTransfer-Encoding: gzip\r\n\r\n", []int{400, 501}},
		{"invalid Host", "GET /env HTTP/1.1\r\nHost: a b\r\n\r\n", []int{400}},
		{"two Hosts", "GET /env HTTP/1.1\r\nHost: alpha.test\r\nHost: beta.test\r\n\r\n", []int{400}},
		{"no Host on 1.1", "GET /env HTTP/1.1\r\n\r\n", []int{400}},
		{"absolute-form", "GET http://beta.test/env HTTP/1.1\r\nHost: alpha.test\r\n\r\n", []int{200}},
		{"HTTP/1.0 without Host", "GET /env HTTP/1.0\r\n\r\n", []int{421}},
		{"oversize header", "GET /env HTTP/1.1\r\nHost: alpha.test\r\nX-Big: " + strings.Repeat("a", 100<<10) + "\r\n\r\n", []int{431}},
		{"header without colon", "GET /env HTTP/1.1\r\nHost: alpha.test\r\nNoColon\r\n\r\n", []int{400}},
		{"NUL in header", "GET /env HTTP/1.1\r\nHost: alpha.test\r\nX-A: a\x00b\r\n\r\n", []int{400}},
		{"bad method", "G\x01T /env HTTP/1.1\r\nHost: alpha.test\r\n\r\n", []int{400}},
		{"bad version", "GET /env HTTP/9.9\r\nHost: alpha.test\r\n\r\n", []int{505, 400}},
		{"OPTIONS *", "OPTIONS * HTTP/1.1\r\nHost: alpha.test\r\n\r\n", []int{200, 400}}, // net/http answers it itself
		{"CONNECT", "CONNECT alpha.test:443 HTTP/1.1\r\nHost: alpha.test:443\r\n\r\n", []int{400, 404, 405}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			code, body := rawExchange(t, th, tc.raw)
			ok := false
			for _, w := range tc.want {
				ok = ok || code == w
			}
			if !ok {
				t.Fatalf("status %d (%.100q), want one of %v", code, body, tc.want)
			}
		})
	}
	// The absolute-form target names beta, but Host rules (RFC 9112 3.2.2:
	// the target's authority wins and Go uses it for r.Host).
	if _, body := rawExchange(t, th, "GET http://beta.test/env HTTP/1.1\r\nHost: alpha.test\r\n\r\n"); environOf(body)["WASGI_SITE"] != "beta" {
		t.Fatalf("absolute-form routed to %q", environOf(body)["WASGI_SITE"])
	}
	if resp, _ := th.do(t, "GET", "alpha.test", "/counter", nil); resp.StatusCode != 200 {
		t.Fatal("host broken")
	}
	if strings.Contains(th.logs.String(), "boom") {
		t.Fatal("a smuggled /panic reached the guest")
	}
}

// TestSlowClients: a client that never finishes its headers is cut at
// read_header_timeout, one that stops sending its body at the request's
// deadline; neither holds an instance forever.
func TestSlowClients(t *testing.T) {
	th := startHost(t, strings.Replace(strings.Replace(twoSites, "[server]\n", "[server]\nread_header_timeout = \"300ms\"\n", 1),
		"request_timeout = \"1s\"\nqueue_timeout = \"1s\"", "request_timeout = \"500ms\"\nqueue_timeout = \"200ms\"", 1))
	addr := strings.TrimPrefix(th.url, "http://")

	// Slowloris: headers one byte at a time, too slowly.
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	start := time.Now()
	io.WriteString(conn, "GET /env HTTP/1.1\r\nHost: alpha.test\r\n")
	closed := make(chan struct{})
	go func() {
		buf := make([]byte, 1)
		for {
			conn.SetReadDeadline(time.Now().Add(5 * time.Second))
			if _, err := conn.Read(buf); err != nil {
				close(closed)
				return
			}
		}
	}()
	for i := 0; i < 50; i++ {
		select {
		case <-closed:
			i = 50
		default:
			io.WriteString(conn, "X")
			time.Sleep(100 * time.Millisecond)
		}
	}
	select {
	case <-closed:
		if time.Since(start) > 4*time.Second {
			t.Fatalf("slowloris held the connection for %v", time.Since(start))
		}
	case <-time.After(5 * time.Second):
		t.Fatal("slowloris connection still open")
	}

	// Slow body: promises 1000 bytes, sends 10, then nothing.
	body, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer body.Close()
	io.WriteString(body, "POST /echo HTTP/1.1\r\nHost: alpha.test\r\nContent-Length: 1000\r\n\r\n0123456789")
	body.SetReadDeadline(time.Now().Add(10 * time.Second))
	io.ReadAll(body) // returns when the host gives up on the body
	// The group (2 instances) is free again.
	for range 3 {
		if resp, _ := th.do(t, "GET", "alpha.test", "/counter", nil); resp.StatusCode != 200 {
			t.Fatalf("after a slow body: %d", resp.StatusCode)
		}
	}
}

// TestConnectionLimit: with max_connections = 20, 200 idle clients get 20
// connections served and the rest wait in the accept queue; when idle ones
// go away, waiting clients are served.
func TestConnectionLimit(t *testing.T) {
	th := startHost(t, strings.Replace(twoSites, "[server]\n", "[server]\nmax_connections = 20\n", 1))
	addr := strings.TrimPrefix(th.url, "http://")
	var idle []net.Conn
	for range 200 {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		idle = append(idle, c)
	}
	// A request now waits: every slot is held by an idle client.
	got := make(chan int, 1)
	go func() {
		resp, err := http.Get(th.url + "/counter")
		if err != nil {
			got <- 0
			return
		}
		resp.Body.Close()
		got <- resp.StatusCode
	}()
	select {
	case code := <-got:
		t.Fatalf("served past the limit: %d", code)
	case <-time.After(300 * time.Millisecond):
	}
	for _, c := range idle {
		c.Close()
	}
	select {
	case code := <-got:
		if code != 421 && code != 200 { // no Host header match: 421 is an answer too
			t.Fatalf("status %d", code)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("a waiting client was never served")
	}
}

// exchangeAll writes raw bytes on one connection and reads every response
// until the host closes it. A request the host must never serve is followed
// by a canary, GET /canary with Connection: close: if the host kept the
// connection open, the canary is served and then the connection closes, so
// the test never waits on a timer.
func exchangeAll(t *testing.T, th *testHost, raw string) []*http.Response {
	t.Helper()
	conn, err := net.Dial("tcp", strings.TrimPrefix(th.url, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	return exchangeOn(t, conn, raw)
}

// exchangeOn is exchangeAll on a connection of the caller's (TLS).
func exchangeOn(t *testing.T, conn net.Conn, raw string) []*http.Response {
	t.Helper()
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(10 * time.Second)) // a safety net, not a measure
	if _, err := io.WriteString(conn, raw); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(conn)
	var got []*http.Response
	for {
		if _, err := br.Peek(1); err == io.EOF {
			return got // closed between responses
		}
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatalf("after %d responses: %v", len(got), err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		got = append(got, resp)
	}
}

// quietSite is one site, quiet.test, serving the test guest at "/".
const quietSite = `
[[site]]
name = "quiet"
hosts = ["quiet.test"]
  [[site.app]]
  name = "main"
  mount = "/"
  module = "{guest}"
`

// TestAmbiguousFraming: a request whose length two parsers could read
// differently (RFC 9112 6.1: Transfer-Encoding in HTTP/1.0, or beside
// Content-Length) gets 400 and the connection is closed, wherever it comes
// on the connection, so what a proxy in front sent behind it (/smuggled) is
// never read as a request. net/http alone drops Transfer-Encoding from an
// HTTP/1.0 request, frames it by Content-Length and keeps the connection
// open (issue 19, defect 2).
func TestAmbiguousFraming(t *testing.T) {
	th := startHost(t, `
[server]
cache_dir = "{cache}"
access_log = "json"
`+quietSite)
	const (
		smuggled  = "GET /smuggled HTTP/1.1\r\nHost: quiet.test\r\n\r\n"
		canary    = "GET /canary HTTP/1.1\r\nHost: quiet.test\r\nConnection: close\r\n\r\n"
		chunk     = "2c\r\n" + smuggled + "\r\n0\r\n\r\n" // smuggled is 0x2c bytes
		clean11   = "GET /env HTTP/1.1\r\nHost: quiet.test\r\n\r\n"
		cleanPost = "POST /echo HTTP/1.1\r\nHost: quiet.test\r\nContent-Length: 5\r\n\r\nhello\r\n"
	)
	if len(smuggled) != 0x2c {
		t.Fatalf("smuggled is %d bytes", len(smuggled))
	}
	post10 := func(headers string) string {
		return "POST /echo HTTP/1.0\r\nHost: quiet.test\r\nConnection: keep-alive\r\n" + headers + "\r\n" + chunk + canary
	}
	cases := []struct {
		name, raw string
		before    int // clean requests served before the ambiguous one
	}{
		{"HTTP/1.0 TE and CL (issue 19)", post10("Transfer-Encoding: chunked\r\nContent-Length: 4\r\n"), 0},
		{"HTTP/1.0 CL then TE", post10("Content-Length: 4\r\nTransfer-Encoding: chunked\r\n"), 0},
		{"HTTP/1.0 TE only", post10("Transfer-Encoding: chunked\r\n"), 0},
		{"HTTP/1.0 TE odd case", post10("tRANSFER-eNCODING: Chunked\r\nContent-Length: 4\r\n"), 0},
		{"HTTP/1.0 TE tab and spaces", post10("Transfer-Encoding:\t chunked  \r\nContent-Length: 4\r\n"), 0},
		{"HTTP/1.0 TE folded", post10("Transfer-Encoding:\r\n chunked\r\nContent-Length: 4\r\n"), 0},
		{"HTTP/1.0 TE identity", post10("Transfer-Encoding: identity\r\nContent-Length: 4\r\n"), 0},
		{"HTTP/1.0 TE bare LF", "POST /echo HTTP/1.0\nHost: quiet.test\nConnection: keep-alive\nTransfer-Encoding: chunked\nContent-Length: 4\n\n" + chunk + canary, 0},
		{"HTTP/1.0 TE after a GET", clean11 + post10("Transfer-Encoding: chunked\r\nContent-Length: 4\r\n"), 1},
		{"HTTP/1.0 TE after a POST and its CRLF", cleanPost + post10("Transfer-Encoding: chunked\r\nContent-Length: 4\r\n"), 1},
		{"HTTP/1.0 TE after HTTP/1.0 keep-alive", "GET /env HTTP/1.0\r\nHost: quiet.test\r\nConnection: keep-alive\r\n\r\n" + post10("Transfer-Encoding: chunked\r\n"), 1},
		{"OPTIONS * HTTP/1.0 TE and CL", "OPTIONS * HTTP/1.0\r\nHost: quiet.test\r\nConnection: keep-alive\r\nTransfer-Encoding: chunked\r\nContent-Length: 4\r\n\r\n" + chunk + canary, 0},
		{"OPTIONS * HTTP/1.1 TE and CL", "OPTIONS * HTTP/1.1\r\nHost: quiet.test\r\nContent-Length: 59\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n" + smuggled + canary, 0},
		{"HTTP/1.1 TE and CL", "POST /echo HTTP/1.1\r\nHost: quiet.test\r\nContent-Length: 59\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n" + smuggled + canary, 0},
		{"HTTP/1.1 TE and CL after a GET", clean11 + "POST /echo HTTP/1.1\r\nHost: quiet.test\r\nContent-Length: 59\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n" + smuggled + canary, 1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := exchangeAll(t, th, tc.raw)
			var statuses []int
			for _, r := range got {
				statuses = append(statuses, r.StatusCode)
			}
			if len(got) != tc.before+1 {
				t.Fatalf("%d responses %v, want %d: the host kept reading after the ambiguous request", len(got), statuses, tc.before+1)
			}
			last := got[tc.before]
			if last.StatusCode != http.StatusBadRequest || !last.Close {
				t.Fatalf("responses %v, Close %v: want 400 and the connection closed", statuses, last.Close)
			}
		})
	}
	for _, p := range []string{`"/smuggled"`, `"/canary"`} {
		if strings.Contains(th.logs.String(), p) {
			t.Errorf("%s was served:\n%s", p, th.logs.String())
		}
	}

	// Clean requests keep their connection, HTTP/1.0 keep-alive included.
	got := exchangeAll(t, th, "POST /echo HTTP/1.0\r\nHost: quiet.test\r\nConnection: keep-alive\r\nContent-Length: 5\r\n\r\nhello"+
		clean11+cleanPost+"GET /env HTTP/1.0\r\nHost: quiet.test\r\n\r\n")
	if len(got) != 4 {
		t.Fatalf("clean requests: %d responses, want 4", len(got))
	}
	for i, r := range got {
		if r.StatusCode != 200 {
			t.Fatalf("clean request %d: %d", i, r.StatusCode)
		}
	}
}

// TestAmbiguousFramingOverTLS: on a TLS connection the head tracker sees
// only ciphertext, so an HTTP/1.0 request is served unseen (here by its
// Content-Length, as net/http frames it) and its connection is closed: the
// smuggled request behind it is never read.
func TestAmbiguousFramingOverTLS(t *testing.T) {
	certFile, keyFile, pool := selfSigned(t, t.TempDir())
	th := startHost(t, `
[server]
cache_dir = "{cache}"
access_log = "json"
tls = { cert = "`+certFile+`", key = "`+keyFile+`" }
`+quietSite)
	dial := func() net.Conn {
		conn, err := tls.Dial("tcp", strings.TrimPrefix(th.url, "http://"), &tls.Config{RootCAs: pool, ServerName: "tls.test", NextProtos: []string{"http/1.1"}})
		if err != nil {
			t.Fatal(err)
		}
		return conn
	}
	got := exchangeOn(t, dial(), "POST /echo HTTP/1.0\r\nHost: quiet.test\r\nConnection: keep-alive\r\nTransfer-Encoding: chunked\r\nContent-Length: 4\r\n\r\n"+
		"2c\r\nGET /smuggled HTTP/1.1\r\nHost: quiet.test\r\n\r\n\r\n0\r\n\r\n"+
		"GET /canary HTTP/1.1\r\nHost: quiet.test\r\nConnection: close\r\n\r\n")
	if len(got) != 1 || !got[0].Close {
		t.Fatalf("%d responses, want 1 with the connection closed", len(got))
	}
	for _, p := range []string{`"/smuggled"`, `"/canary"`} {
		if strings.Contains(th.logs.String(), p) {
			t.Errorf("%s was served", p)
		}
	}
	// HTTP/1.1 keeps its connection over TLS.
	got = exchangeOn(t, dial(), "GET /env HTTP/1.1\r\nHost: quiet.test\r\n\r\nGET /env HTTP/1.1\r\nHost: quiet.test\r\nConnection: close\r\n\r\n")
	if len(got) != 2 || got[0].StatusCode != 200 || got[1].StatusCode != 200 {
		t.Fatalf("HTTP/1.1 over TLS: %d responses", len(got))
	}
}
