package host

import (
	"context"
	"encoding/pem"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/wasgi/wasgi/internal/testsvc"
	"github.com/wasgi/wasgi/internal/testwait"
	"github.com/wasgi/wasgi/internal/testwasm"
	"github.com/wasgi/wasgi/sites"
)

// Outbound connections, through the Go SDK and real drivers, against real
// servers: what a guest may reach, and everything it may not.

// outboundSite is a site running testdata/outbound with the given outbound
// list (TOML array body) and extra app keys.
func outboundSite(entries, extra string) string {
	return `
[server]
cache_dir = "{cache}"
access_log = "off"
admin = "127.0.0.1:0"
[groups.net]
instances = 2
request_timeout = "3s"
[[site]]
name = "net"
hosts = ["net.test"]
  [[site.app]]
  name = "main"
  mount = "/"
  module = "{outbound}"
  group = "net"
  outbound = [` + entries + `]
` + extra + `
[[site]]
name = "quiet"
hosts = ["quiet.test"]
  [[site.app]]
  name = "main"
  mount = "/"
  module = "{guest}"
`
}

// countingListener accepts on 127.0.0.1 and counts connections; each is
// handed to serve (closed after it returns).
type countingListener struct {
	net.Listener
	accepted atomic.Int64
	closed   chan struct{} // a token per connection the peer closed
}

func listen(t *testing.T, serve func(net.Conn)) *countingListener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	cl := &countingListener{Listener: ln, closed: make(chan struct{}, 100)}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			cl.accepted.Add(1)
			go func() {
				defer c.Close()
				serve(c)
				cl.closed <- struct{}{}
			}()
		}
	}()
	return cl
}

func (cl *countingListener) port() int { return cl.Addr().(*net.TCPAddr).Port }

// echo answers what it read, once the peer closed its write side.
func echo(c net.Conn) {
	b, _ := io.ReadAll(c)
	c.Write(append([]byte("echo:"), b...))
}

func get(t *testing.T, th *testHost, target string) (int, string) {
	t.Helper()
	resp, body := th.do(t, "GET", "net.test", target, nil)
	return resp.StatusCode, body
}

func TestOutboundTCPAndTLS(t *testing.T) {
	plain := listen(t, echo)
	tlsSrv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "over tls, %s", r.URL.Path)
	}))
	t.Cleanup(tlsSrv.Close)
	ca := filepath.Join(t.TempDir(), "ca.pem")
	os.WriteFile(ca, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: tlsSrv.Certificate().Raw}), 0o644)
	tlsPort := tlsSrv.Listener.Addr().(*net.TCPAddr).Port
	httpSrv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "plain http") }))
	t.Cleanup(httpSrv.Close)
	httpPort := httpSrv.Listener.Addr().(*net.TCPAddr).Port

	th := startHost(t, outboundSite(fmt.Sprintf(`"tcp://127.0.0.1:%d", "tcp://127.0.0.1:%d", { url = "tls://127.0.0.1:%d", ca = %q }`,
		plain.port(), httpPort, tlsPort, ca), ""))

	if code, body := get(t, th, fmt.Sprintf("/echo?addr=127.0.0.1:%d&msg=hello", plain.port())); code != 200 || body != "tls=false echo:hello" {
		t.Fatalf("echo over tcp://: %d %q", code, body)
	}
	if code, body := get(t, th, "/http?url="+url.QueryEscape(httpSrv.URL+"/x")); code != 200 || body != "200 plain http" {
		t.Fatalf("http.Client over guest.Transport: %d %q", code, body)
	}
	if code, body := get(t, th, "/http?url="+url.QueryEscape(fmt.Sprintf("https://127.0.0.1:%d/secure", tlsPort))); code != 200 || body != "200 over tls, /secure" {
		t.Fatalf("https through a tls:// entry: %d %q", code, body)
	}

	// The same TLS server without its CA: the host refuses the handshake.
	th2 := startHost(t, outboundSite(fmt.Sprintf(`"tls://127.0.0.1:%d"`, tlsPort), ""))
	if code, body := get(t, th2, fmt.Sprintf("/echo?addr=127.0.0.1:%d&msg=x", tlsPort)); code != http.StatusBadGateway || !strings.Contains(body, "cannot connect") {
		t.Fatalf("tls:// to an untrusted server: %d %q", code, body)
	}
	if !strings.Contains(th2.logs.String(), "certificate") {
		t.Errorf("the host log does not say the certificate failed:\n%s", th2.logs.String())
	}
}

// TestOutboundRefusals: each way a guest may try to reach what its list
// does not grant gets ErrDenied, and nothing reaches the destination.
func TestOutboundRefusals(t *testing.T) {
	target := listen(t, echo)
	th := startHost(t, outboundSite(fmt.Sprintf(`"tcp://127.0.0.1:%d", "tcp://localhost:%d"`, target.port()+1, target.port()), ""))
	for _, tc := range []struct{ name, addr, reason string }{
		{"not listed", fmt.Sprintf("127.0.0.2:%d", target.port()), "not in the app's outbound list"},
		{"unlisted port", fmt.Sprintf("127.0.0.1:%d", target.port()), "not in the app's outbound list"},
		{"a listed name that resolves to loopback", fmt.Sprintf("localhost:%d", target.port()), "loopback address"},
		{"not host:port", "127.0.0.1", "not host:port"},
	} {
		code, body := get(t, th, "/echo?addr="+url.QueryEscape(tc.addr)+"&msg=x")
		if code != http.StatusForbidden || !strings.Contains(body, "not allowed") {
			t.Errorf("%s (%s): %d %q, want 403 from ErrDenied", tc.name, tc.addr, code, body)
		}
		if !strings.Contains(th.logs.String(), tc.reason) {
			t.Errorf("%s: the host log lacks %q", tc.name, tc.reason)
		}
	}
	if n := target.accepted.Load(); n != 0 {
		t.Fatalf("%d connections reached the destination", n)
	}
	// The status page counts them, per app.
	if o := statusJSON(t, th, false).site(t, "net").Apps[0].Outbound; o == nil || o.Refused != 4 || o.Opened != 0 || o.Open != 0 {
		t.Errorf("status of the app's outbound connections: %+v", o)
	}
	if q := statusJSON(t, th, false).site(t, "quiet").Apps[0].Outbound; q != nil {
		t.Errorf("an app without an outbound list has outbound status %+v", q)
	}
	if _, page := adminGet(t, th, "/status", false); !strings.Contains(page, "Outbound connections") {
		t.Error("/status has no outbound table")
	}

	// wasgi's own listeners: the admin one always, even named literally;
	// a public one only named literally.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	adminPort := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	text := strings.Replace(outboundSite(fmt.Sprintf(`"tcp://127.0.0.1:%d"`, adminPort), ""), `admin = "127.0.0.1:0"`, fmt.Sprintf(`admin = "127.0.0.1:%d"`, adminPort), 1)
	th2 := startHost(t, text)
	if code, body := get(t, th2, fmt.Sprintf("/echo?addr=127.0.0.1:%d&msg=x", adminPort)); code != http.StatusForbidden {
		t.Fatalf("the admin listener, named literally: %d %q, want 403", code, body)
	}
	if !strings.Contains(th2.logs.String(), "admin listener") {
		t.Errorf("the host log does not name the admin listener:\n%s", th2.logs.String())
	}
	public := th2.Addrs()[0].(*net.TCPAddr).Port
	cfg, err := sites.Load(writeConfig(t, th2.dir, strings.Replace(text, fmt.Sprintf(`"tcp://127.0.0.1:%d"`, adminPort), fmt.Sprintf(`"tcp://127.0.0.1:%d"`, public), 1)))
	if err != nil {
		t.Fatal(err)
	}
	cfg.Server.Listen = []string{"127.0.0.1:0"} // as startHost does; the listeners stay
	if err := th2.Reload(context.Background(), cfg); err != nil {
		t.Fatal(err)
	}
	if code, body := get(t, th2, fmt.Sprintf("/echo?addr=127.0.0.1:%d&msg=GARBAGE%%0D%%0A%%0D%%0A", public)); code != 200 || !strings.Contains(body, "HTTP/1.1 400") {
		t.Fatalf("a public listener named literally: %d %q, want wasgi's own 400 through the connection", code, body)
	}
}

// TestOutboundLimits: a guest opening connections in a loop stops at its
// instance's quota, two instances stop at the app's, and another site
// keeps answering throughout.
func TestOutboundLimits(t *testing.T) {
	release := make(chan struct{})
	target := listen(t, func(c net.Conn) {
		<-release
		c.Write([]byte("!"))
		io.Copy(io.Discard, c)
	})
	th := startHost(t, outboundSite(fmt.Sprintf(`"tcp://127.0.0.1:%d"`, target.port()), "  outbound_limit = 3\n  outbound_app_limit = 4\n"))
	hold := fmt.Sprintf("/hold?addr=127.0.0.1:%d", target.port())
	quiet := func() {
		t.Helper()
		if resp, body := th.do(t, "GET", "quiet.test", "/hello", nil); resp.StatusCode != 200 {
			t.Fatalf("the quiet site during the storm: %d %q", resp.StatusCode, body)
		}
	}
	// Two requests at once, each holding its instance until the server
	// speaks: both instances of the group now hold one connection.
	var wg sync.WaitGroup
	codes := make([]int, 2)
	for i := range 2 {
		wg.Add(1)
		go func() { defer wg.Done(); codes[i], _ = get(t, th, hold+"&wait=1") }()
	}
	testwait.Until(t, "both connections are open", func() bool { return target.accepted.Load() == 2 })
	close(release)
	wg.Wait()
	if codes[0] != 200 || codes[1] != 200 {
		t.Fatalf("two requests at once: %v", codes)
	}
	// One instance, request after request: it stops at outbound_limit.
	codes = nil
	for range 6 {
		code, _ := get(t, th, hold)
		codes = append(codes, code)
		quiet()
	}
	if fmt.Sprint(codes) != "[200 200 429 429 429 429]" {
		t.Fatalf("a connect storm: %v, want two more then 429s (outbound_limit = 3)", codes)
	}
	// The other instance, while this one sleeps: it holds one connection,
	// under its own limit, but the app holds 4.
	slept := make(chan int)
	go func() { code, _ := get(t, th, "/sleep?ms=1500"); slept <- code }()
	testwait.Until(t, "/sleep holds an instance", func() bool { return th.state.Load().groups["net"].Stats().InUse == 1 })
	if code, body := get(t, th, hold); code != http.StatusTooManyRequests {
		t.Fatalf("the other instance: %d %q, want 429 (outbound_app_limit = 4)", code, body)
	}
	if code := <-slept; code != 200 {
		t.Fatalf("/sleep: %d", code)
	}
	if n := target.accepted.Load(); n != 4 {
		t.Fatalf("%d connections reached the server, want 4 (outbound_app_limit)", n)
	}
	for _, want := range []string{"the instance holds outbound_limit connections", "the app holds outbound_app_limit connections"} {
		if !strings.Contains(th.logs.String(), want) {
			t.Errorf("the log lacks %q", want)
		}
	}
}

// TestOutboundSilentServer: a guest blocked reading from a server that
// never answers gets its 504 at request_timeout, and the host closes the
// connection (the server sees it end).
func TestOutboundSilentServer(t *testing.T) {
	silent := listen(t, func(c net.Conn) { io.Copy(io.Discard, c) }) // returns when the host closes
	th := startHost(t, outboundSite(fmt.Sprintf(`"tcp://127.0.0.1:%d"`, silent.port()), ""))
	code, _ := get(t, th, fmt.Sprintf("/recv?addr=127.0.0.1:%d", silent.port()))
	if code != http.StatusGatewayTimeout {
		t.Fatalf("status %d, want 504", code)
	}
	select {
	case <-silent.closed:
	case <-time.After(10 * time.Second):
		t.Fatal("the connection to the silent server is still open")
	}
}

func TestOutboundPostgres(t *testing.T) {
	ep := testsvc.Postgres(t)
	dsn := fmt.Sprintf("postgres://%s:%s@%s/%s?sslmode=disable", ep.User, url.QueryEscape(ep.Password), ep.Addr, ep.Database)
	// Start from an empty table.
	native, err := pgx.Connect(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer native.Close(context.Background())
	native.Exec(context.Background(), "DROP TABLE IF EXISTS wasgi_items")

	th := startHost(t, outboundSite(fmt.Sprintf(`"tcp://%s"`, ep.Addr), ""))
	for _, v := range []string{"one", "two"} {
		code, body := get(t, th, "/pg?v="+v+"&dsn="+url.QueryEscape(dsn))
		if code != 200 || !strings.HasPrefix(body, "pg rows ") {
			t.Fatalf("/pg: %d %q", code, body)
		}
		if v == "two" && body != "pg rows one,two" {
			t.Fatalf("/pg: %q, want both rows", body)
		}
	}
	var n int
	native.QueryRow(context.Background(), "SELECT count(*) FROM wasgi_items").Scan(&n)
	if n != 2 {
		t.Fatalf("the server has %d rows, want 2", n)
	}

	// The same guest without the entry: a clear error, and nothing reaches
	// the server (no new row, no new backend).
	var before int
	native.QueryRow(context.Background(), "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend'").Scan(&before)
	denied := startHost(t, outboundSite(`"tcp://db.invalid:5432"`, ""))
	code, body := get(t, denied, "/pg?v=three&dsn="+url.QueryEscape(dsn))
	if code != http.StatusForbidden || !strings.Contains(body, "not allowed") {
		t.Fatalf("/pg without the entry: %d %q, want 403 and the reason", code, body)
	}
	var after int
	native.QueryRow(context.Background(), "SELECT count(*) FROM wasgi_items").Scan(&n)
	native.QueryRow(context.Background(), "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend'").Scan(&after)
	if n != 2 || after > before {
		t.Fatalf("after a denied guest: %d rows, %d client backends (was %d)", n, after, before)
	}
	// /metrics counts the app's connections.
	resp, err := http.Get("http://" + th.AdminAddr().String() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{`wasgi_outbound_connections_total{site="net",app="main"} 2`, `wasgi_outbound_sent_bytes_total{site="net",app="main"}`} {
		if !strings.Contains(string(b), want) {
			t.Errorf("metrics lack %s", want)
		}
	}
}

func TestOutboundMariaDB(t *testing.T) {
	ep := testsvc.MariaDB(t)
	dsn := fmt.Sprintf("%s:%s@wasgi(%s)/%s", ep.User, ep.Password, ep.Addr, ep.Database)
	th := startHost(t, outboundSite(fmt.Sprintf(`"tcp://%s"`, ep.Addr), ""))
	get(t, th, "/mysql?v=drop&dsn="+url.QueryEscape(dsn)) // the table may hold an earlier run's rows
	code, body := get(t, th, "/mysql?v=maria&dsn="+url.QueryEscape(dsn))
	if code != 200 || !strings.HasPrefix(body, "mysql rows ") || !strings.HasSuffix(body, "maria") {
		t.Fatalf("/mysql: %d %q", code, body)
	}
}

func TestOutboundRedis(t *testing.T) {
	ep := testsvc.Redis(t)
	th := startHost(t, outboundSite(fmt.Sprintf(`"tcp://%s"`, ep.Addr), ""))
	code, body := get(t, th, "/redis?v=red&addr="+url.QueryEscape(ep.Addr)+"&pw="+url.QueryEscape(ep.Password))
	if code != 200 || body != "redis got red" {
		t.Fatalf("/redis: %d %q", code, body)
	}
}

// TestOutboundC: the C example reaches a backend through wasgi.h's net
// functions, and gets a clear answer when the backend is not listed.
func TestOutboundC(t *testing.T) {
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "backend saw %s", r.URL.Path)
	}))
	t.Cleanup(backend.Close)
	addr := backend.Listener.Addr().String()
	module := testwasm.BuildC(t, "examples/c-outbound/proxy.c", true)
	text := fmt.Sprintf(`
[server]
cache_dir = "{cache}"
access_log = "off"
[[site]]
name = "c"
hosts = ["c.test"]
  [[site.app]]
  name = "proxy"
  mount = "/"
  module = %q
  env = { BACKEND = %q }
  outbound = ["tcp://%s"]
[[site]]
name = "unlisted"
hosts = ["unlisted.test"]
  [[site.app]]
  name = "proxy"
  mount = "/"
  module = %q
  env = { BACKEND = %q }
`, module, addr, addr, module, addr)
	th := startHost(t, text)
	resp, body := th.do(t, "GET", "c.test", "/some/path", nil)
	if resp.StatusCode != 200 || !strings.HasPrefix(body, "HTTP/1.0 200 OK") || !strings.HasSuffix(body, "backend saw /some/path") {
		t.Fatalf("through the C proxy: %d %q", resp.StatusCode, body)
	}
	resp, body = th.do(t, "GET", "unlisted.test", "/", nil)
	if resp.StatusCode != http.StatusBadGateway || !strings.Contains(body, "not in this app's outbound list") {
		t.Fatalf("an app without the entry: %d %q", resp.StatusCode, body)
	}
}
