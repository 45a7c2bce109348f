package host

import (
	"bufio"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/wasgi/wasgi/internal/testsvc"
	"github.com/wasgi/wasgi/internal/testwasm"
)

// BenchmarkSelect1 is a request that makes one database round trip
// (SELECT 1 on a connection the app keeps), side by side in one run:
// native Go (net/http + go-sql-driver/mysql), the same code as a wasgi Go
// guest, a Python WSGI app (PyMySQL) under wasgi and the same app file
// under native CPython (wsgiref). Each reports ns/op for the whole HTTP
// request, one client at a time, and query-µs: the SELECT 1 as the app
// itself times it (the median). MariaDB from Debian (internal/testsvc).
//
//	go test -run=NONE -bench=Select1 -benchtime=2000x ./host/
func BenchmarkSelect1(b *testing.B) {
	db := testsvc.MariaDB(b)
	host, port, _ := net.SplitHostPort(db.Addr)
	q := url.Values{"host": {host}, "port": {port}, "user": {db.User}, "password": {db.Password}, "database": {db.Database}}
	dsn := fmt.Sprintf("%s:%s@wasgi(%s)/%s", db.User, db.Password, db.Addr, db.Database)

	b.Run("native-go", func(b *testing.B) {
		mc := mysql.NewConfig()
		mc.User, mc.Passwd, mc.Net, mc.Addr, mc.DBName = db.User, db.Password, "tcp", db.Addr, db.Database
		pool, err := sql.Open("mysql", mc.FormatDSN())
		if err != nil {
			b.Fatal(err)
		}
		defer pool.Close()
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			t0 := time.Now()
			var one int
			if err := pool.QueryRowContext(r.Context(), "SELECT 1").Scan(&one); err != nil {
				http.Error(w, err.Error(), 502)
				return
			}
			fmt.Fprintf(w, `{"one": %d, "us": %.1f}`, one, float64(time.Since(t0).Nanoseconds())/1e3)
		}))
		defer srv.Close()
		select1Loop(b, srv.URL+"/select1", "")
	})
	b.Run("wasgi-go", func(b *testing.B) {
		th := startHost(b, outboundSite(quote("tcp://"+db.Addr), ""))
		select1Loop(b, th.url+"/select1?dsn="+url.QueryEscape(dsn), "net.test")
	})
	b.Run("wasgi-python", func(b *testing.B) {
		debianPython(b, "pymysql")
		th := startPythonNet(b, []string{quote("tcp://" + db.Addr)}, pythonDeps(b, "pymysql"))
		select1Loop(b, th.url+"/select1?"+q.Encode(), "net.test")
	})
	b.Run("native-python", func(b *testing.B) {
		debianPython(b, "pymysql")
		python, err := exec.LookPath("python3")
		if err != nil {
			b.Skip("needs python3")
		}
		// The same app file under native CPython's wsgiref (HTTP/1.0: a
		// connection per request), with Debian's PyMySQL.
		cmd := exec.Command(python, "-c", `
import sys, wsgiref.simple_server as ws
sys.path[:0] = [sys.argv[1], "/usr/lib/python3/dist-packages"]
import netapp
class Quiet(ws.WSGIRequestHandler):
    def log_request(self, *a): pass
srv = ws.make_server("127.0.0.1", 0, netapp.application, handler_class=Quiet)
print(srv.server_port, flush=True)
srv.serve_forever()
`, filepath.Join(testwasm.Root(b), "testdata", "python", "net"))
		cmd.Stderr = os.Stderr
		out, _ := cmd.StdoutPipe()
		if err := cmd.Start(); err != nil {
			b.Fatal(err)
		}
		defer func() { cmd.Process.Kill(); cmd.Wait() }()
		line, err := bufio.NewReader(out).ReadString('\n')
		if err != nil {
			b.Fatal(err)
		}
		select1Loop(b, "http://127.0.0.1:"+strings.TrimSpace(line)+"/select1?"+q.Encode(), "")
	})
}

// select1Loop GETs target b.N times, after a warm-up that opens the app's
// connection, and reports the apps' median query time.
func select1Loop(b *testing.B, target, hostHeader string) {
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 1}}
	get := func() float64 {
		req, _ := http.NewRequestWithContext(context.Background(), "GET", target, nil)
		if hostHeader != "" {
			req.Host = hostHeader
		}
		resp, err := client.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		var out struct {
			One int
			Us  float64
		}
		if resp.StatusCode != 200 || json.Unmarshal(body, &out) != nil || out.One != 1 {
			b.Fatalf("%s: %d %s", target, resp.StatusCode, body)
		}
		return out.Us
	}
	for range 20 {
		get()
	}
	us := make([]float64, 0, b.N)
	b.ResetTimer()
	for range b.N {
		us = append(us, get())
	}
	b.StopTimer()
	slices.Sort(us)
	b.ReportMetric(us[len(us)/2], "query-µs")
}
