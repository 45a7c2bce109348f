package host

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/wasgi/wasgi/sites"
)

// testCA issues certificates for tests.
type testCA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	pool *x509.CertPool
	n    int64
}

func newTestCA(t *testing.T) *testCA {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "wasgi test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return &testCA{cert: cert, key: key, pool: pool, n: 1}
}

// issue writes a certificate for names, valid until notAfter, as
// dir/name.pem and dir/name.key.
func (ca *testCA) issue(t *testing.T, dir, name string, notAfter time.Time, names ...string) (certFile, keyFile string) {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	ca.n++
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(ca.n), Subject: pkix.Name{CommonName: names[0]},
		NotBefore: time.Now().Add(-2 * time.Hour), NotAfter: notAfter, DNSNames: names,
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	kb, _ := x509.MarshalECPrivateKey(key)
	certFile, keyFile = filepath.Join(dir, name+".pem"), filepath.Join(dir, name+".key")
	os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644)
	os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}), 0o600)
	return certFile, keyFile
}

// sniConfig is two sites with certificates of their own, beside plain
// HTTP; server is more [server] keys.
func sniConfig(server, a, b string) string {
	return `
[server]
cache_dir = "{cache}"
access_log = "off"
listen = ["127.0.0.1:0"]
listen_tls = ["127.0.0.1:0"]
` + server + `
[[site]]
name = "a"
hosts = ["a.test"]
tls = ` + a + `
  [[site.app]]
  name = "main"
  mount = "/"
  module = "{guest}"
[[site]]
name = "b"
hosts = ["*.b.test"]
tls = ` + b + `
  [[site.app]]
  name = "main"
  mount = "/"
  module = "{guest}"
`
}

func pair(cert, key string) string { return `{ cert = "` + cert + `", key = "` + key + `" }` }

// handshake connects to addr with SNI name, verifying against pool, and
// returns the leaf served and the protocol ALPN chose.
func handshake(t *testing.T, addr, name string, pool *x509.CertPool) (*x509.Certificate, string, error) {
	t.Helper()
	conn, err := tls.Dial("tcp", addr, &tls.Config{RootCAs: pool, ServerName: name, NextProtos: []string{"h2", "http/1.1"}})
	if err != nil {
		return nil, "", err
	}
	defer conn.Close()
	st := conn.ConnectionState()
	return st.PeerCertificates[0], st.NegotiatedProtocol, nil
}

func TestTLSBySNI(t *testing.T) {
	dir := t.TempDir()
	ca := newTestCA(t)
	later := time.Now().Add(time.Hour)
	ac, ak := ca.issue(t, dir, "a", later, "a.test")
	bc, bk := ca.issue(t, dir, "b", later, "*.b.test")
	dc, dk := ca.issue(t, dir, "default", later, "default.test")
	text := sniConfig("tls = "+pair(dc, dk), pair(ac, ak), pair(bc, bk))
	th := startHost(t, text)
	addrs := th.Addrs()
	plain, secure := addrs[0].String(), addrs[1].String()

	for _, c := range []struct{ sni, want string }{
		{"a.test", "a.test"}, {"x.b.test", "*.b.test"}, {"deep.x.b.test", "*.b.test"}, {"unknown.test", "default.test"}, {"", "default.test"},
	} {
		// Names no certificate holds: look at what is served, unverified.
		skip := c.sni == "" || strings.HasPrefix(c.sni, "deep.") || c.sni == "unknown.test"
		conn, err := tls.Dial("tcp", secure, &tls.Config{RootCAs: ca.pool, ServerName: c.sni, InsecureSkipVerify: skip, NextProtos: []string{"h2", "http/1.1"}})
		if err != nil {
			t.Fatalf("SNI %q: %v", c.sni, err)
		}
		st := conn.ConnectionState()
		conn.Close()
		leaf, proto := st.PeerCertificates[0], st.NegotiatedProtocol
		if leaf.DNSNames[0] != c.want || proto != "h2" {
			t.Errorf("SNI %q: got the certificate of %v, ALPN %q; want %s, h2", c.sni, leaf.DNSNames, proto, c.want)
		}
	}

	// A verifying client asking for site a gets a's certificate and page
	// over HTTP/2, never b's; plain HTTP keeps working beside it.
	for _, host := range []string{"a.test", "www.b.test"} {
		client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: ca.pool, ServerName: host}, ForceAttemptHTTP2: true}}
		req, _ := http.NewRequest("GET", "https://"+secure+"/env", nil)
		req.Host = host
		resp, err := client.Do(req)
		if err != nil {
			t.Fatalf("%s: %v", host, err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		env := environOf(string(b))
		if resp.ProtoMajor != 2 || env["HTTPS"] != "on" || env["WASGI_SITE"] != host[:1] && env["WASGI_SITE"] != "b" {
			t.Fatalf("%s: %s, HTTPS %q, site %q", host, resp.Proto, env["HTTPS"], env["WASGI_SITE"])
		}
		client.CloseIdleConnections()
	}
	resp, err := http.Get("http://" + plain + "/env")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMisdirectedRequest { // 127.0.0.1 is no site's host
		t.Fatalf("plain HTTP beside HTTPS: %d", resp.StatusCode)
	}

	// A reload re-reads the files: a renewed a.pem is served at once.
	oldLeaf, _, _ := handshake(t, secure, "a.test", ca.pool)
	ca.issue(t, dir, "a", later.Add(time.Hour), "a.test")
	cfg, err := sites.Load(writeConfig(t, th.dir, text))
	if err != nil {
		t.Fatal(err)
	}
	if err := th.Reload(context.Background(), cfg); err != nil {
		t.Fatal(err)
	}
	newLeaf, _, err := handshake(t, secure, "a.test", ca.pool)
	if err != nil || newLeaf.SerialNumber.Cmp(oldLeaf.SerialNumber) == 0 {
		t.Fatalf("after a reload with a renewed certificate: %v, serial %v (was %v)", err, newLeaf.SerialNumber, oldLeaf.SerialNumber)
	}
	// A broken certificate refuses the reload; the old one keeps serving.
	os.WriteFile(ac, []byte("not a certificate"), 0o644)
	cfg, err = sites.Load(writeConfig(t, th.dir, text))
	if err != nil {
		t.Fatal(err)
	}
	err = th.Reload(context.Background(), cfg)
	var serr *sites.Error
	if !errors.As(err, &serr) || serr.Key != "site.tls.cert" || serr.Line == 0 {
		t.Fatalf("reload with a broken certificate: %v", err)
	}
	if leaf, _, err := handshake(t, secure, "a.test", ca.pool); err != nil || leaf.SerialNumber.Cmp(newLeaf.SerialNumber) != 0 {
		t.Fatalf("after a refused reload: %v", err)
	}
}

// TestTLSNoDefault: without [server] tls, a name no site with a
// certificate claims fails the handshake.
func TestTLSNoDefault(t *testing.T) {
	dir := t.TempDir()
	ca := newTestCA(t)
	later := time.Now().Add(time.Hour)
	ac, ak := ca.issue(t, dir, "a", later, "a.test")
	bc, bk := ca.issue(t, dir, "b", later, "*.b.test")
	th := startHost(t, sniConfig("", pair(ac, ak), pair(bc, bk)))
	secure := th.Addrs()[1].String()
	if leaf, _, err := handshake(t, secure, "a.test", ca.pool); err != nil || leaf.DNSNames[0] != "a.test" {
		t.Fatalf("a.test: %v", err)
	}
	for _, sni := range []string{"unknown.test", ""} {
		if _, _, err := handshake(t, secure, sni, ca.pool); err == nil || !strings.Contains(err.Error(), "handshake failure") && !strings.Contains(err.Error(), "internal error") {
			t.Fatalf("SNI %q without a default certificate: %v", sni, err)
		}
	}
}

// TestCheckCertificates: `wasgi check` reports an expired certificate,
// one that does not cover its site's hosts and one that does not match
// its key, each at its key in the file.
func TestCheckCertificates(t *testing.T) {
	dir := t.TempDir()
	ca := newTestCA(t)
	later := time.Now().Add(time.Hour)
	ac, ak := ca.issue(t, dir, "a", time.Now().Add(-time.Hour), "a.test")
	bc, _ := ca.issue(t, dir, "b", later, "other.test")
	_, ok := ca.issue(t, dir, "c", later, "x.test")
	cfg, err := sites.Load(writeConfig(t, dir, sniConfig("", pair(ac, ak), pair(bc, ok))))
	if err != nil {
		t.Fatal(err)
	}
	err = checkCerts(cfg, time.Now())
	if err == nil || !strings.Contains(err.Error(), "site.tls.key") || !strings.Contains(err.Error(), "does not match") {
		t.Fatalf("a key that does not match: %v", err)
	}
	bc, bk := ca.issue(t, dir, "b", later, "other.test")
	cfg, _ = sites.Load(writeConfig(t, dir, sniConfig("", pair(ac, ak), pair(bc, bk))))
	err = checkCerts(cfg, time.Now())
	if err == nil || !strings.Contains(err.Error(), "site.tls.cert: "+ac+" expired") || !strings.Contains(err.Error(), `does not cover host "*.b.test"`) {
		t.Fatalf("expired and not covering: %v", err)
	}
	bc, bk = ca.issue(t, dir, "b", later, "*.b.test")
	ac, ak = ca.issue(t, dir, "a", later, "a.test")
	cfg, _ = sites.Load(writeConfig(t, dir, sniConfig("", pair(ac, ak), pair(bc, bk))))
	if err := checkCerts(cfg, time.Now()); err != nil {
		t.Fatalf("good certificates: %v", err)
	}
}

// TestRedirectHTTPSAndHSTS: redirect_https answers plain HTTP with 308 to
// the HTTPS port, same host, path and query; hsts is sent on HTTPS only.
func TestRedirectHTTPSAndHSTS(t *testing.T) {
	dir := t.TempDir()
	ca := newTestCA(t)
	later := time.Now().Add(time.Hour)
	ac, ak := ca.issue(t, dir, "a", later, "a.test")
	bc, bk := ca.issue(t, dir, "b", later, "*.b.test")
	text := strings.Replace(sniConfig("", pair(ac, ak), pair(bc, bk)), "tls = "+pair(ac, ak),
		"tls = "+pair(ac, ak)+"\nredirect_https = true\nhsts = \"max-age=31536000; includeSubDomains\"", 1)
	th := startHost(t, text)
	secure := th.Addrs()[1].String()
	_, port, _ := strings.Cut(secure, ":")

	resp, _ := th.do(t, "GET", "A.test:80", "/env/x?q=1&r=%2F", nil)
	if want := "https://a.test:" + port + "/env/x?q=1&r=%2F"; resp.StatusCode != http.StatusPermanentRedirect || resp.Header.Get("Location") != want {
		t.Fatalf("plain HTTP to a redirecting site: %d %q, want 308 %q", resp.StatusCode, resp.Header.Get("Location"), want)
	}
	if resp.Header.Get("Strict-Transport-Security") != "" {
		t.Fatal("HSTS on plain HTTP")
	}
	// Site b does not redirect.
	if resp, _ := th.do(t, "GET", "www.b.test", "/env", nil); resp.StatusCode != 200 {
		t.Fatalf("plain HTTP to a site without redirect_https: %d", resp.StatusCode)
	}
	for _, c := range []struct{ host, hsts string }{{"a.test", "max-age=31536000; includeSubDomains"}, {"www.b.test", ""}} {
		client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: ca.pool, ServerName: c.host}, ForceAttemptHTTP2: true}}
		req, _ := http.NewRequest("GET", "https://"+secure+"/env", nil)
		req.Host = c.host
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 || resp.Header.Get("Strict-Transport-Security") != c.hsts {
			t.Fatalf("HTTPS %s: %d, HSTS %q, want %q", c.host, resp.StatusCode, resp.Header.Get("Strict-Transport-Security"), c.hsts)
		}
	}
}

// TestAdminToken: with admin_token_file, /metrics needs the bearer token
// (401 without it or with a wrong one); /healthz and /readyz stay open;
// admin_tls makes the admin listener HTTPS.
func TestAdminToken(t *testing.T) {
	dir := t.TempDir()
	ca := newTestCA(t)
	cc, ck := ca.issue(t, dir, "admin", time.Now().Add(time.Hour), "admin.test")
	tokenFile := filepath.Join(dir, "token")
	const token = "s3cret-token-0123456789"
	os.WriteFile(tokenFile, []byte(token+"\n"), 0o600)
	th := startHost(t, strings.Replace(twoSites, "[server]\n", "[server]\nadmin = \"127.0.0.1:0\"\nadmin_token_file = \""+tokenFile+"\"\nadmin_tls = "+pair(cc, ck)+"\n", 1))
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: ca.pool, ServerName: "admin.test"}}}
	get := func(path, auth string) int {
		req, _ := http.NewRequest("GET", "https://"+th.AdminAddr().String()+path, nil)
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if strings.Contains(string(b), token) {
			t.Fatal("the token in an answer")
		}
		return resp.StatusCode
	}
	for _, c := range []struct {
		path, auth string
		want       int
	}{
		{"/metrics", "", 401}, {"/metrics", "Bearer wrong-token-0123456789", 401}, {"/metrics", "Basic " + token, 401},
		{"/metrics", "Bearer " + token, 200}, {"/healthz", "", 200}, {"/readyz", "", 200}, {"/nothing", "", 401},
		{"/status", "", 401}, {"/status.json", "", 401}, {"/status", "Bearer " + token, 200},
		{"/status", "Basic " + base64.StdEncoding.EncodeToString([]byte("anyone:"+token)), 200},
		{"/debug/pprof/heap", "", 401}, {"/debug/pprof/heap", "Bearer " + token, 200},
		{"/metrics", "Basic " + base64.StdEncoding.EncodeToString([]byte("anyone:wrong-token-0123456789")), 401},
	} {
		if got := get(c.path, c.auth); got != c.want {
			t.Errorf("%s with %q: %d, want %d", c.path, c.auth, got, c.want)
		}
	}
	req, _ := http.NewRequest("GET", "https://"+th.AdminAddr().String()+"/metrics", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	leaf, _ := tls.LoadX509KeyPair(cc, ck)
	if want := fmt.Sprintf("wasgi_tls_certificate_expiry_seconds{name=\"admin.test\"} %d\n", leaf.Leaf.NotAfter.Unix()); !strings.Contains(string(b), want) {
		t.Errorf("metrics lack %s", want)
	}
	// Plain HTTP is not served on the admin_tls listener.
	if resp, err := http.Get("http://" + th.AdminAddr().String() + "/healthz"); err == nil && resp.StatusCode == 200 {
		t.Fatal("plain HTTP on the admin_tls listener")
	}
	if strings.Contains(th.logs.String(), token) {
		t.Fatal("the token in the log")
	}
	// A reload without admin_tls cannot change the listener's mode: it
	// keeps answering HTTPS with the last pair, and says so.
	cfg, err := sites.Load(writeConfig(t, t.TempDir(), strings.Replace(twoSites, "[server]\n", "[server]\nadmin = \"127.0.0.1:0\"\n", 1)))
	if err != nil {
		t.Fatal(err)
	}
	if err := th.Reload(context.Background(), cfg); err != nil {
		t.Fatal(err)
	}
	if got := get("/healthz", ""); got != 200 {
		t.Errorf("admin over HTTPS after a reload without admin_tls: %d", got)
	}
	if !strings.Contains(th.logs.String(), "turning admin_tls on or off needs a restart") {
		t.Error("no warning about admin_tls")
	}
}
