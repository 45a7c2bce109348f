package host

import (
	"bufio"
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
		// Go takes Transfer-Encoding over Content-Length; wasgi then closes
		// the connection, so the smuggled second request is never served.
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
