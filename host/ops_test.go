package host

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/wasgi/wasgi/internal/testwait"
	"github.com/wasgi/wasgi/sites"
)

func opsSite(t *testing.T, format, file string) *testHost {
	if file != "" {
		file = `access_log_file = "` + file + `"`
	}
	return startHost(t, `
[server]
cache_dir = "{cache}"
admin = "127.0.0.1:0"
access_log = "`+format+`"
`+file+`
[[site]]
name = "ops"
hosts = ["ops.test"]
  [[site.app]]
  name = "main"
  mount = "/"
  module = "{guest}"
`)
}

func readLines(t *testing.T, path string) []string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return strings.Split(strings.TrimSpace(string(b)), "\n")
}

func TestAccessLogCombinedAndReopen(t *testing.T) {
	file := filepath.Join(t.TempDir(), "access.log")
	th := opsSite(t, "combined", file)
	req, _ := http.NewRequest("GET", th.url+"/env?q=1", nil)
	req.Host = "ops.test"
	req.Header.Set("User-Agent", `agent "quoted"`)
	req.Header.Set("Referer", "http://ref.example/")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	lines := readLines(t, file)
	// %h %l %u %t "%r" %>s %b "%{Referer}i" "%{User-agent}i"
	combined := regexp.MustCompile(`^127\.0\.0\.1 - - \[\d{2}/\w{3}/\d{4}:\d{2}:\d{2}:\d{2} [+-]\d{4}\] "GET /env\?q=1 HTTP/1\.1" 200 \d+ "http://ref\.example/" "agent \\"quoted\\""$`)
	if len(lines) != 1 || !combined.MatchString(lines[0]) {
		t.Fatalf("combined log:\n%s", strings.Join(lines, "\n"))
	}
	// logrotate: move the file away, reopen, log again.
	os.Rename(file, file+".1")
	if ok, err := th.ReopenLogs(); err != nil || !ok {
		t.Fatal(err)
	}
	th.do(t, "GET", "ops.test", "/counter", nil)
	if lines := readLines(t, file); len(lines) != 1 || !strings.Contains(lines[0], "GET /counter") {
		t.Fatalf("after reopen: %q", lines)
	}
	if old := readLines(t, file+".1"); len(old) != 1 {
		t.Fatalf("rotated file: %q", old)
	}
}

func TestAccessLogJSONAndRequestID(t *testing.T) {
	file := filepath.Join(t.TempDir(), "access.json")
	th := opsSite(t, "json", file)
	cases := []struct{ in, want string }{
		{"lb-1234.abc_Z", "lb-1234.abc_Z"}, // well-formed: kept
		{"bad id!", ""},                    // replaced
		{strings.Repeat("a", 129), ""},     // too long: replaced
	}
	for _, tc := range cases {
		req, _ := http.NewRequest("GET", th.url+"/env", nil)
		req.Host = "ops.test"
		req.Header.Set("X-Request-Id", tc.in)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b := new(strings.Builder)
		bufio.NewReader(resp.Body).WriteTo(b)
		resp.Body.Close()
		got := resp.Header.Get("X-Request-Id")
		env := environOf(b.String())
		if tc.want != "" && got != tc.want || tc.want == "" && (got == tc.in || got == "") || env["WASGI_REQUEST_ID"] != got {
			t.Errorf("in %.20q: header %q, environ %q", tc.in, got, env["WASGI_REQUEST_ID"])
		}
	}
	lines := readLines(t, file)
	if len(lines) != 3 {
		t.Fatalf("json log: %q", lines)
	}
	var ev map[string]any
	if err := json.Unmarshal([]byte(lines[0]), &ev); err != nil {
		t.Fatal(err)
	}
	for k, v := range map[string]any{"request_id": "lb-1234.abc_Z", "method": "GET", "uri": "/env", "status": float64(200), "site": "ops", "app": "main", "group": "ops/main", "host": "ops.test"} {
		if ev[k] != v {
			t.Errorf("%s = %v, want %v (%s)", k, ev[k], v, lines[0])
		}
	}
	if _, ok := ev["duration"]; !ok {
		t.Error("no duration")
	}
}

// promLine is one sample of the Prometheus text format, version 0.0.4.
var promLine = regexp.MustCompile(`^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{([a-zA-Z_][a-zA-Z0-9_]*="(\\.|[^"\\])*"(,[a-zA-Z_][a-zA-Z0-9_]*="(\\.|[^"\\])*")*)?\})? (-?[0-9.eE+-]+|NaN|[+-]Inf)$`)

// parseMetrics checks every line of an exposition and returns the samples.
func parseMetrics(t *testing.T, text string) map[string]float64 {
	t.Helper()
	samples := map[string]float64{}
	typed := map[string]bool{}
	for i, line := range strings.Split(strings.TrimSuffix(text, "\n"), "\n") {
		switch {
		case strings.HasPrefix(line, "# HELP "):
		case strings.HasPrefix(line, "# TYPE "):
			f := strings.Fields(line)
			if len(f) != 4 || (f[3] != "counter" && f[3] != "gauge" && f[3] != "histogram") || typed[f[2]] {
				t.Fatalf("line %d: bad TYPE %q", i+1, line)
			}
			typed[f[2]] = true
		default:
			m := promLine.FindStringSubmatch(line)
			if m == nil {
				t.Fatalf("line %d: not a sample: %q", i+1, line)
			}
			base := strings.TrimSuffix(strings.TrimSuffix(strings.TrimSuffix(m[1], "_bucket"), "_sum"), "_count")
			if !typed[m[1]] && !typed[base] {
				t.Fatalf("line %d: sample before its TYPE: %q", i+1, line)
			}
			v, _ := strconv.ParseFloat(m[len(m)-1], 64)
			samples[m[1]+m[2]] = v
		}
	}
	return samples
}

func TestMetricsAndReadiness(t *testing.T) {
	th := opsSite(t, "off", "")
	th.do(t, "GET", "ops.test", "/env", nil)
	th.do(t, "GET", "ops.test", "/nope/../env", nil)
	admin := "http://" + th.AdminAddr().String()
	get := func(path string) (int, string) {
		resp, err := http.Get(admin + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b := new(strings.Builder)
		bufio.NewReader(resp.Body).WriteTo(b)
		return resp.StatusCode, b.String()
	}
	_, text := get("/metrics")
	samples := parseMetrics(t, text)
	if n := samples[`wasgi_requests_total{site="ops",target="main",code="2xx"}`]; n != 2 {
		t.Fatalf("2xx count = %v\n%s", n, text)
	}
	if samples["wasgi_modules_compiled_total"] < 1 || samples["wasgi_modules_loaded"] != 1 {
		t.Fatalf("compile metrics:\n%s", text)
	}
	if samples[`wasgi_request_duration_seconds_count{site="ops"}`] != 2 {
		t.Fatalf("no latency histogram count:\n%s", text)
	}
	// A failed reload leaves the old config serving, and the host ready.
	bad := filepath.Join(t.TempDir(), "bad.toml")
	os.WriteFile(bad, []byte("[[site]]\nname = \"x\"\n"), 0o644)
	if _, err := sites.Load(bad); err == nil {
		t.Fatal("bad config loaded")
	}
	cfg, _ := sites.Load(writeConfig(t, th.dir, strings.Replace("[[site]]\nname = \"ops\"\nhosts = [\"ops.test\"]\n  [[site.app]]\n  name = \"main\"\n  mount = \"/\"\n  module = \"/nonexistent.wasm\"\n", "", "", 1)))
	if cfg != nil {
		if err := th.Reload(context.Background(), cfg); err == nil {
			t.Fatal("reload of a broken module succeeded")
		}
	}
	if code, _ := get("/readyz"); code != 200 {
		t.Fatalf("readyz after a failed reload: %d", code)
	}
	if resp, _ := th.do(t, "GET", "ops.test", "/counter", nil); resp.StatusCode != 200 {
		t.Fatal("old config not serving")
	}
	// Draining: /readyz says 503 while an accepted request finishes.
	pr, pw := io.Pipe()
	req, _ := http.NewRequest("POST", th.url+"/echo", pr)
	req.Host = "ops.test"
	done := make(chan int)
	go func() {
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			done <- 0
			return
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		done <- resp.StatusCode
	}()
	io.WriteString(pw, "x")
	testwait.Until(t, "the request holds an instance", func() bool { return th.state.Load().groups["ops/main"].Stats().InUse > 0 })
	go th.Shutdown(context.Background())
	testwait.Until(t, "Shutdown is draining", th.draining.Load)
	if code, _ := get("/readyz"); code != http.StatusServiceUnavailable {
		t.Fatalf("readyz while draining: %d", code)
	}
	pw.Close()
	if code := <-done; code != 200 {
		t.Fatalf("in-flight request: %d", code)
	}
}

func TestGuestLogFloodBounded(t *testing.T) {
	// Generous timeout: 100,000 lines take a while under the race detector.
	th := startHost(t, strings.Replace(twoSites, `request_timeout = "1s"`, `request_timeout = "60s"`, 1))
	start := time.Now()
	resp, body := th.do(t, "GET", "alpha.test", "/flood", nil)
	if resp.StatusCode != 200 || body != "flooded" {
		t.Fatalf("%d %q", resp.StatusCode, body)
	}
	// guestLogBurst lines per second of flooding: the flood spans at most
	// that many one-second periods, plus one for the period it began in.
	most := guestLogBurst * (int(time.Since(start)/time.Second) + 2)
	n := strings.Count(th.logs.String(), "flood line")
	if n == 0 || n > most {
		t.Fatalf("%d of 100000 flood lines logged in %v, want at most %d", n, time.Since(start), most)
	}
	t.Logf("%d of 100000 lines logged", n)
}
