package host

import (
	"bufio"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/textproto"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/wasgi/wasgi/internal/testsvc"
	"github.com/wasgi/wasgi/internal/testwasm"
)

// The Python runtime's outbound connections (ABI.md 4.8): unmodified
// stdlib and Debian clients in testdata/python/net/netapp.py reach real
// servers that the test starts on 127.0.0.1, through the app's outbound
// list, and each answer is checked on both sides.

const pythonNetConfig = `
[server]
cache_dir = "{cache}"
access_log = "off"
[[site]]
name = "net"
hosts = ["net.test"]
root = "{root}"
  [[site.app]]
  name = "main"
  mount = "/"
  runtime = "python"
  wsgi = "netapp"
  python_path = {path}
  outbound = [{outbound}]
`

// startPythonNet serves netapp with the given outbound entries (TOML
// values) and extra python_path folders.
func startPythonNet(t testing.TB, outbound []string, path ...string) *testHost {
	t.Helper()
	pythonRuntime(t)
	p, _ := json.Marshal(append([]string{"testdata/python/net"}, path...))
	config := strings.NewReplacer("{root}", testwasm.Root(t), "{cache}", testwasm.CacheDir(t),
		"{path}", string(p), "{outbound}", strings.Join(outbound, ", ")).Replace(pythonNetConfig)
	return startHost(t, config)
}

// netCall runs one of netapp's clients: its JSON answer, with the status
// it must have (200 for a result, 502 for the client's exception).
func netCall(t *testing.T, th *testHost, status int, route string, q url.Values) map[string]any {
	t.Helper()
	resp, body := th.do(t, "GET", "net.test", "/"+route+"?"+q.Encode(), nil)
	var out map[string]any
	if err := json.Unmarshal([]byte(body), &out); err != nil || resp.StatusCode != status {
		t.Fatalf("/%s?%s: %d %q, want %d and JSON\nhost log:\n%s", route, q.Encode(), resp.StatusCode, body, status, th.logs.String())
	}
	return out
}

// pythonDeps copies Debian's pure-Python packages (folders of
// /usr/lib/python3/dist-packages) into a folder for python_path, so that
// the guest sees these and nothing else of the host's.
func pythonDeps(t testing.TB, pkgs ...string) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "deps")
	for _, p := range pkgs {
		if err := os.CopyFS(filepath.Join(dir, p), os.DirFS(filepath.Join("/usr/lib/python3/dist-packages", p))); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func quote(s string) string { b, _ := json.Marshal(s); return string(b) }

// smtpServer accepts SMTP sessions on 127.0.0.1 and sends each message,
// as "EHLO argument\n" and its DATA, to the channel.
func smtpServer(t *testing.T) (string, <-chan string) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	msgs := make(chan string, 4)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go serveSMTP(c, msgs)
		}
	}()
	return ln.Addr().String(), msgs
}

func serveSMTP(c net.Conn, msgs chan<- string) {
	defer c.Close()
	c.SetDeadline(time.Now().Add(time.Minute))
	tc := textproto.NewConn(c)
	tc.PrintfLine("220 test.local ESMTP")
	ehlo := ""
	for {
		line, err := tc.ReadLine()
		if err != nil {
			return
		}
		verb, arg, _ := strings.Cut(line, " ")
		switch strings.ToUpper(verb) {
		case "EHLO", "HELO":
			ehlo = arg
			tc.PrintfLine("250-test.local")
			tc.PrintfLine("250 8BITMIME")
		case "MAIL", "RCPT", "RSET", "NOOP":
			tc.PrintfLine("250 OK")
		case "DATA":
			tc.PrintfLine("354 go ahead")
			data, err := tc.ReadDotBytes()
			if err != nil {
				return
			}
			msgs <- "EHLO " + ehlo + "\n" + string(data)
			tc.PrintfLine("250 queued")
		case "QUIT":
			tc.PrintfLine("221 bye")
			return
		default:
			tc.PrintfLine("502 unknown command")
		}
	}
}

// silentServer accepts connections and never writes to them.
func silentServer(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		var held []net.Conn
		defer func() {
			for _, c := range held {
				c.Close()
			}
		}()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			held = append(held, c)
		}
	}()
	return ln.Addr().String()
}

// closedPort returns an address on 127.0.0.1 where nothing listens.
func closedPort(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

func TestPythonNet(t *testing.T) {
	handler := func(name string) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("X-Test-Server", name)
			body := r.URL.Path
			if r.Method == "POST" {
				n, _ := io.Copy(io.Discard, r.Body)
				body += fmt.Sprintf(" posted %d bytes", n)
			}
			fmt.Fprintf(w, "hello %s from %s", body, name)
		})
	}
	plain := httptest.NewServer(handler("plain"))
	defer plain.Close()
	secure := httptest.NewTLSServer(handler("tls"))
	defer secure.Close()
	ca := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(ca, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: secure.Certificate().Raw}), 0o644); err != nil {
		t.Fatal(err)
	}
	smtpAddr, mails := smtpServer(t)
	silent := silentServer(t)
	closed := closedPort(t)
	plainAddr := strings.TrimPrefix(plain.URL, "http://")
	secureAddr := strings.TrimPrefix(secure.URL, "https://")

	th := startPythonNet(t, []string{
		quote("tcp://" + plainAddr),
		fmt.Sprintf(`{ url = %s, ca = %s }`, quote("tls://"+secureAddr), quote(ca)),
		quote("tcp://" + smtpAddr),
		quote("tcp://" + silent),
		quote("tcp://" + closed),
	})

	t.Run("urllib over http", func(t *testing.T) {
		out := netCall(t, th, 200, "fetch", url.Values{"url": {plain.URL + "/page"}})
		if out["body"] != "hello /page from plain" || out["server"] != "plain" || out["status"] != 200.0 {
			t.Errorf("GET: %v", out)
		}
		out = netCall(t, th, 200, "fetch", url.Values{"url": {plain.URL + "/post"}, "post_bytes": {"300000"}})
		if out["body"] != "hello /post posted 300000 bytes from plain" {
			t.Errorf("POST: %v", out)
		}
	})

	t.Run("urllib over https, TLS by the host", func(t *testing.T) {
		out := netCall(t, th, 200, "fetch", url.Values{"url": {secure.URL + "/secret"}})
		if out["body"] != "hello /secret from tls" || out["server"] != "tls" {
			t.Errorf("%v", out)
		}
	})

	t.Run("https through a tcp entry is an SSLError", func(t *testing.T) {
		out := netCall(t, th, 502, "fetch", url.Values{"url": {"https://" + plainAddr + "/"}})
		if out["error"] != "SSLError" || !strings.Contains(out["message"].(string), "needs a tls:// entry in the app's outbound list") {
			t.Errorf("%v", out)
		}
	})

	t.Run("smtplib", func(t *testing.T) {
		host, port, _ := net.SplitHostPort(smtpAddr)
		out := netCall(t, th, 200, "smtp", url.Values{"host": {host}, "port": {port}, "to": {"ops@example.com"}, "body": {"disk is full on db1"}})
		if len(out["refused"].(map[string]any)) != 0 {
			t.Errorf("refused: %v", out)
		}
		select {
		case m := <-mails:
			if !strings.HasPrefix(m, "EHLO [127.0.0.1]\n") || !strings.Contains(m, "To: ops@example.com\n") ||
				!strings.Contains(m, "Subject: from wasgi\n") || !strings.Contains(m, "\ndisk is full on db1\n") {
				t.Errorf("the server got %q", m)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("no message reached the SMTP server")
		}
	})

	t.Run("a destination not in the outbound list", func(t *testing.T) {
		for _, addr := range []string{"example.com:25", plain.Listener.Addr().(*net.TCPAddr).IP.String() + ":1"} {
			host, port, _ := net.SplitHostPort(addr)
			out := netCall(t, th, 502, "connect", url.Values{"host": {host}, "port": {port}})
			msg, _ := out["message"].(string)
			if out["error"] != "PermissionError" || out["errno"] != "EACCES" || !strings.Contains(msg, addr) ||
				!strings.Contains(msg, "not in this app's outbound list (wasgi)") {
				t.Errorf("%s: %v", addr, out)
			}
		}
	})

	t.Run("a listed destination that refuses", func(t *testing.T) {
		host, port, _ := net.SplitHostPort(closed)
		out := netCall(t, th, 502, "connect", url.Values{"host": {host}, "port": {port}})
		if out["error"] != "ConnectionRefusedError" || out["errno"] != "ECONNREFUSED" {
			t.Errorf("%v", out)
		}
	})

	t.Run("recv timeout", func(t *testing.T) {
		host, port, _ := net.SplitHostPort(silent)
		out := netCall(t, th, 200, "connect", url.Values{"host": {host}, "port": {port}, "recv_timeout": {"0.3"}})
		elapsed, _ := out["elapsed"].(float64)
		if out["timeout"] != "TimeoutError: timed out" || elapsed < 0.29 || elapsed > 5 {
			t.Errorf("%v", out)
		}
		if out := netCall(t, th, 200, "fetch", url.Values{"url": {plain.URL + "/after"}}); out["body"] != "hello /after from plain" {
			t.Errorf("after the timeout: %v", out)
		}
	})
}

// TestPythonNetMariaDB: Debian's PyMySQL, unmodified, against MariaDB.
func TestPythonNetMariaDB(t *testing.T) {
	pythonRuntime(t)
	debianPython(t, "pymysql")
	db := testsvc.MariaDB(t)
	th := startPythonNet(t, []string{quote("tcp://" + db.Addr)}, pythonDeps(t, "pymysql"))
	host, port, _ := net.SplitHostPort(db.Addr)
	q := url.Values{"host": {host}, "port": {port}, "user": {db.User}, "password": {db.Password}, "database": {db.Database}}
	q.Set("name", "Zoë's row")
	out := netCall(t, th, 200, "mysql", q)
	if out["name"] != "Zoë's row" || !strings.Contains(fmt.Sprint(out["version"]), "MariaDB") {
		t.Errorf("%v", out)
	}
	q.Set("password", "wrong")
	out = netCall(t, th, 502, "mysql", q)
	if out["error"] != "OperationalError" || !strings.Contains(out["message"].(string), "Access denied") {
		t.Errorf("a wrong password: %v", out)
	}
}

// TestPythonNetRedis: Debian's redis-py, unmodified, against Redis; the
// client, kept in a module global, reuses its connection across requests.
func TestPythonNetRedis(t *testing.T) {
	pythonRuntime(t)
	debianPython(t, "redis", "packaging")
	rd := testsvc.Redis(t)
	th := startPythonNet(t, []string{quote("tcp://" + rd.Addr)}, pythonDeps(t, "redis", "packaging"))
	host, port, _ := net.SplitHostPort(rd.Addr)
	q := url.Values{"host": {host}, "port": {port}, "password": {rd.Password}, "value": {"v1"}}
	a := netCall(t, th, 200, "redis", q)
	q.Set("value", "v2")
	b := netCall(t, th, 200, "redis", q)
	if a["value"] != "v1" || b["value"] != "v2" || b["incr"] != a["incr"].(float64)+1 || b["len"] != a["len"].(float64)+50 {
		t.Errorf("%v then %v", a, b)
	}
	if a["client_id"] != b["client_id"] {
		t.Errorf("client ids %v, %v: the second request opened a new connection", a["client_id"], b["client_id"])
	}
}

// TestPythonNetSnapshot: a connection opened at import time belongs to the
// instance the snapshot is taken of. In an instance started from the
// snapshot its socket fails as reset, and its handle, which that instance
// gives to its own first connection, is never written to.
func TestPythonNetSnapshot(t *testing.T) {
	record := func() (string, <-chan string) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { ln.Close() })
		got := make(chan string, 16)
		go func() {
			for {
				c, err := ln.Accept()
				if err != nil {
					return
				}
				go func() {
					defer c.Close()
					c.SetDeadline(time.Now().Add(time.Minute))
					line, _ := bufio.NewReader(c).ReadString('\n')
					rest, _ := io.ReadAll(c)
					got <- line + string(rest)
				}()
			}
		}()
		return ln.Addr().String(), got
	}
	early, _ := record()
	fresh, freshGot := record()
	pythonRuntime(t)
	config := fmt.Sprintf(`
[server]
cache_dir = %s
access_log = "off"
[groups.fresh]
max_requests = 1
[[site]]
name = "net"
hosts = ["net.test"]
root = %s
  [[site.app]]
  name = "main"
  mount = "/"
  group = "fresh"
  runtime = "python"
  wsgi = "atimport"
  python_path = ["testdata/python/net"]
  env = { NET_AT_IMPORT = %s, NET_FRESH = %s }
  outbound = [%s, %s]
`, quote(testwasm.CacheDir(t)), quote(testwasm.Root(t)), quote(early), quote(fresh), quote("tcp://"+early), quote("tcp://"+fresh))
	th := startHost(t, config)
	source := 0
	for i := range 3 {
		// max_requests = 1: each request has an instance of its own.
		resp, body := th.do(t, "GET", "net.test", "/", nil)
		switch {
		case resp.StatusCode == 200 && body == "sent":
			source++ // the instance that imported the app, once at most
		case resp.StatusCode == 200 && strings.HasPrefix(body, "ConnectionResetError: ") && strings.Contains(body, "before the snapshot"):
		default:
			t.Fatalf("request %d: %d %q", i, resp.StatusCode, body)
		}
		select {
		case got := <-freshGot:
			if got != "fresh\n" {
				t.Errorf("request %d: the fresh connection carried %q", i, got)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("request %d: nothing reached the fresh server", i)
		}
	}
	if source > 1 {
		t.Errorf("%d instances wrote through the import-time connection", source)
	}
}

// TestPythonNetRun: a one-shot run (wasgi_run, the base of wasgi manage)
// has the same sockets and ssl as the WSGI app.
func TestPythonNetRun(t *testing.T) {
	dir := pythonRuntime(t)
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "hello %s over TLS", r.URL.Path)
	}))
	defer srv.Close()
	ca := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(ca, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}), 0o644); err != nil {
		t.Fatal(err)
	}
	config := strings.NewReplacer("{root}", testwasm.Root(t), "{cache}", testwasm.CacheDir(t), "{path}", `["testdata/python/net"]`,
		"{outbound}", fmt.Sprintf(`{ url = %s, ca = %s }`, quote("tls://"+strings.TrimPrefix(srv.URL, "https://")), quote(ca))).Replace(pythonNetConfig)
	out, errb, code, err := pythonRunner(t, dir, config)("", "-c", "import sys, urllib.request; print(urllib.request.urlopen(sys.argv[1]).read().decode())", srv.URL+"/run")
	if err != nil || code != 0 || out != "hello /run over TLS\n" {
		t.Fatalf("run: exit %d, %v, stdout %q, stderr %q", code, err, out, errb)
	}
}
