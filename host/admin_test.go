package host

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/wasgi/wasgi/internal/testwait"
	"github.com/wasgi/wasgi/sites"
)

// selfSigned writes a certificate for 127.0.0.1 and returns its paths and
// a pool trusting it.
func selfSigned(t *testing.T, dir string) (certFile, keyFile string, pool *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "wasgi test"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		IPAddresses:  []net.IP{net.ParseIP("127.0.0.1")},
		DNSNames:     []string{"tls.test"},
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kb, _ := x509.MarshalECPrivateKey(key)
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644)
	os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}), 0o600)
	cert, _ := x509.ParseCertificate(der)
	pool = x509.NewCertPool()
	pool.AddCert(cert)
	return certFile, keyFile, pool
}

func TestTLSAndHTTP2(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile, pool := selfSigned(t, dir)
	th := startHost(t, `
[server]
cache_dir = "{cache}"
access_log = "off"
tls = { cert = "`+certFile+`", key = "`+keyFile+`" }
[[site]]
name = "s"
hosts = ["*"]
  [[site.app]]
  name = "main"
  mount = "/"
  module = "{guest}"
`)
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}, ForceAttemptHTTP2: true}}
	resp, err := client.Get(strings.Replace(th.url, "http://", "https://", 1) + "/env")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	env := environOf(string(b))
	if resp.ProtoMajor != 2 || env["wsgi.url_scheme"] != "https" || env["HTTPS"] != "on" || env["SERVER_PROTOCOL"] != "HTTP/2.0" {
		t.Fatalf("proto %s, scheme %q, HTTPS %q, SERVER_PROTOCOL %q", resp.Proto, env["wsgi.url_scheme"], env["HTTPS"], env["SERVER_PROTOCOL"])
	}
	// Plain HTTP on the TLS port is refused.
	if resp, err := http.Get(th.url + "/env"); err == nil && resp.StatusCode == 200 {
		t.Fatal("plain HTTP served on the TLS listener")
	}
}

func TestAdminEndpoints(t *testing.T) {
	th := startHost(t, strings.Replace(twoSites, "[server]\n", "[server]\nadmin = \"127.0.0.1:0\"\n", 1))
	th.do(t, "GET", "alpha.test", "/env", nil)
	th.do(t, "GET", "alpha.test", "/panic", nil)
	th.do(t, "GET", "unknown.test", "/", nil)
	admin := "http://" + th.AdminAddr().String()
	get := func(path string) (int, string) {
		resp, err := http.Get(admin + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, _ := get("/healthz"); code != 200 {
		t.Fatalf("healthz %d", code)
	}
	if code, _ := get("/readyz"); code != 200 {
		t.Fatalf("readyz %d", code)
	}
	code, metrics := get("/metrics")
	for _, want := range []string{
		`wasgi_requests_total{site="alpha",target="main",code="2xx"} 1`,
		`wasgi_requests_total{site="alpha",target="main",code="5xx"} 1`,
		`wasgi_group_instances_idle{group="shared"}`,
		`# TYPE wasgi_group_traps_total counter`,
	} {
		if code != 200 || !strings.Contains(metrics, want) {
			t.Errorf("metrics lack %s:\n%s", want, metrics)
		}
	}
	// The admin endpoints are not on the public listener.
	if resp, _ := th.do(t, "GET", "alpha.test", "/metrics", nil); resp.StatusCode == 200 && resp.Header.Get("Content-Type") == "text/plain; version=0.0.4; charset=utf-8" {
		t.Fatal("metrics on the public listener")
	}
}

// TestMetricsSurviveReload: a reload (SIGHUP) continues the counters of
// the config it replaces, for sites, apps and groups alike.
func TestMetricsSurviveReload(t *testing.T) {
	text := strings.Replace(twoSites, "[server]\n", "[server]\nadmin = \"127.0.0.1:0\"\n", 1)
	th := startHost(t, text)
	th.do(t, "GET", "alpha.test", "/env", nil)
	th.do(t, "GET", "alpha.test", "/panic", nil)
	cfg, err := sites.Load(writeConfig(t, th.dir, text))
	if err != nil {
		t.Fatal(err)
	}
	if err := th.Reload(context.Background(), cfg); err != nil {
		t.Fatal(err)
	}
	th.do(t, "GET", "alpha.test", "/env", nil)
	resp, err := http.Get("http://" + th.AdminAddr().String() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{
		`wasgi_requests_total{site="alpha",target="main",code="2xx"} 2`,
		`wasgi_requests_total{site="alpha",target="main",code="5xx"} 1`,
		`wasgi_request_duration_seconds_count{site="alpha"} 3`,
		`wasgi_group_calls_total{group="shared"} 3`,
	} {
		if !strings.Contains(string(b), want) {
			t.Errorf("after a reload, metrics lack %s:\n%s", want, b)
		}
	}
}

// TestMemoryMetrics: wasgi_memory_bytes says where the memory goes: the
// compiled guest's machine code, a live instance's linear memory (given
// back when the instance closes), the Go heap, all within the RSS.
func TestMemoryMetrics(t *testing.T) {
	th := startHost(t, `
[server]
cache_dir = "{cache}"
access_log = "off"
admin = "127.0.0.1:0"
[groups.g]
idle_timeout = "200ms"
[[site]]
name = "s"
hosts = ["*"]
  [[site.app]]
  name = "main"
  mount = "/"
  module = "{guest}"
  group = "g"
`)
	mem := func() map[string]uint64 {
		t.Helper()
		resp, err := http.Get("http://" + th.AdminAddr().String() + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		out := map[string]uint64{}
		for line := range strings.Lines(string(b)) {
			var kind string
			var v uint64
			if n, _ := fmt.Sscanf(strings.ReplaceAll(line, `"`, " "), "wasgi_memory_bytes{kind= %s } %d", &kind, &v); n == 2 {
				out[kind] = v
			}
		}
		return out
	}
	if resp, _ := th.do(t, "GET", "x.test", "/counter", nil); resp.StatusCode != 200 {
		t.Fatal(resp.Status)
	}
	m := mem()
	if runtime.GOOS == "linux" {
		// The Go test guest compiles to megabytes of machine code and
		// grows its memory to a few MB.
		if m["machine_code"] < 1<<20 || m["linear_memory"] < 1<<20 || m["rss"] < m["machine_code"]+m["linear_memory"] {
			t.Fatalf("with an instance: %v", m)
		}
	}
	if m["go_heap"] == 0 {
		t.Fatalf("no Go heap: %v", m)
	}
	testwait.Until(t, "the idle instance's memory no longer counted", func() bool { return mem()["linear_memory"] == 0 })
}
