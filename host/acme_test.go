package host

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/letsencrypt/pebble/v2/ca"
	"github.com/letsencrypt/pebble/v2/db"
	"github.com/letsencrypt/pebble/v2/va"
	"github.com/letsencrypt/pebble/v2/wfe"
	"github.com/miekg/dns"

	"github.com/wasgi/wasgi/sites"
)

// pebble is Let's Encrypt's test ACME server (github.com/letsencrypt/
// pebble/v2) run inside the test on 127.0.0.1, with a DNS server that
// answers 127.0.0.1 for every name, so that its validation authority
// reaches the test's host by the sites' names. Its directory answers once
// validate has pointed it at the host's listeners.
type pebble struct {
	dir    string // the ACME directory URL
	caFile string // PEM of the CA that signed the directory's HTTPS certificate ([server.acme] ca_root)
	ca     *ca.CAImpl
	db     *db.MemoryStore
	dns    string
	log    *log.Logger

	once    sync.Once
	ready   chan struct{}
	handler http.Handler
}

// startPebble starts Pebble issuing certificates valid for validity
// (rounded to seconds).
func startPebble(t *testing.T, validity time.Duration) *pebble {
	t.Helper()
	// The validation authority validates at once (no random sleep), every
	// order is validated afresh (no reused authorizations, so a renewal
	// answers a challenge again), no nonce is refused for testing, and
	// nothing is valid without a challenge.
	t.Setenv("PEBBLE_VA_NOSLEEP", "1")
	t.Setenv("PEBBLE_VA_ALWAYS_VALID", "0")
	t.Setenv("PEBBLE_AUTHZREUSE", "0")
	t.Setenv("PEBBLE_WFE_NONCEREJECT", "0")

	dir := t.TempDir()
	p := &pebble{ready: make(chan struct{}), log: log.New(io.Discard, "", 0), db: db.NewMemoryStore()}
	if testing.Verbose() {
		p.log = log.New(os.Stderr, "pebble ", log.Lmicroseconds)
	}
	p.ca = ca.New(p.log, p.db, "", "ecdsa", 0, 1, map[string]ca.Profile{
		"default": {Description: "test", ValidityPeriod: uint64(validity / time.Second)},
	})

	// DNS over TCP (Pebble's resolver uses TCP): every A question is
	// 127.0.0.1, nothing else has an answer.
	dl, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dsrv := &dns.Server{Listener: dl, Handler: dns.HandlerFunc(func(w dns.ResponseWriter, r *dns.Msg) {
		m := new(dns.Msg)
		m.SetReply(r)
		for _, q := range r.Question {
			if q.Qtype == dns.TypeA {
				m.Answer = append(m.Answer, &dns.A{Hdr: dns.RR_Header{Name: q.Name, Rrtype: dns.TypeA, Class: dns.ClassINET}, A: net.IPv4(127, 0, 0, 1)})
			}
		}
		w.WriteMsg(m)
	})}
	go dsrv.ActivateAndServe()
	t.Cleanup(func() { dsrv.Shutdown() })
	p.dns = dl.Addr().String()

	// The directory's own HTTPS certificate, from a CA of the test's.
	tca := newTestCA(t)
	cert, key := tca.issue(t, dir, "pebble", time.Now().Add(time.Hour), "localhost")
	tmpl := tca.cert
	p.caFile = filepath.Join(dir, "pebble-ca.pem")
	os.WriteFile(p.caFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: tmpl.Raw}), 0o644)
	pair, err := tls.LoadX509KeyPair(cert, key)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			select {
			case <-p.ready:
				p.handler.ServeHTTP(w, r)
			case <-time.After(time.Minute):
				http.Error(w, "pebble: not validating yet", http.StatusServiceUnavailable)
			}
		}),
		TLSConfig: &tls.Config{Certificates: []tls.Certificate{pair}},
		ErrorLog:  p.log,
	}
	go srv.ServeTLS(ln, "", "")
	t.Cleanup(func() { srv.Close() })
	p.dir = "https://localhost:" + strconv.Itoa(ln.Addr().(*net.TCPAddr).Port) + wfe.DirectoryPath
	return p
}

// validate points Pebble's validation authority at the host's plain
// (HTTP-01) and HTTPS (TLS-ALPN-01) listeners, and opens the directory.
func (p *pebble) validate(httpAddr, httpsAddr net.Addr) {
	p.once.Do(func() {
		v := va.New(p.log, httpAddr.(*net.TCPAddr).Port, httpsAddr.(*net.TCPAddr).Port, false, p.dns, p.db)
		w := wfe.New(p.log, p.db, v, p.ca, []string{"pebble.letsencrypt.org"}, false, false, 0, 0)
		p.handler = w.Handler()
		close(p.ready)
	})
}

// roots are Pebble's issuing roots, for clients to verify against.
func (p *pebble) roots() *x509.CertPool {
	pool := x509.NewCertPool()
	for i := range p.ca.GetNumberOfRootCerts() {
		pool.AddCert(p.ca.GetRootCert(i).Cert)
	}
	return pool
}

// acmeConfig is two sites on ACME, a.test by HTTP-01 only and b.test by
// TLS-ALPN-01 only, with Pebble as the CA.
func acmeConfig(p *pebble, storage, accessLog string) string {
	return `
[server]
cache_dir = "{cache}"
access_log = "json"
access_log_file = "` + accessLog + `"
listen = ["127.0.0.1:0"]
listen_tls = ["127.0.0.1:0"]
admin = "127.0.0.1:0"
[server.acme]
email = "ops@example.com"
ca = "` + p.dir + `"
ca_root = "` + p.caFile + `"
storage = "` + storage + `"
[[site]]
name = "a"
hosts = ["a.test"]
tls = { acme = true, challenges = ["http-01"] }
redirect_https = true
  [[site.app]]
  name = "main"
  mount = "/"
  module = "{guest}"
[[site]]
name = "b"
hosts = ["b.test", "www.b.test"]
tls = { acme = true, challenges = ["tls-alpn-01"] }
  [[site.app]]
  name = "main"
  mount = "/"
  module = "{guest}"
`
}

// waitCert handshakes with SNI name until a certificate verified against
// pool is served (or a minute passes), and returns it.
func waitCert(t *testing.T, addr, name string, pool *x509.CertPool, newerThan *x509.Certificate) *x509.Certificate {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	var last error
	for time.Now().Before(deadline) {
		leaf, _, err := handshake(t, addr, name, pool)
		if err == nil && (newerThan == nil || leaf.SerialNumber.Cmp(newerThan.SerialNumber) != 0) {
			return leaf
		}
		last = err
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("no certificate for %s after a minute (last error: %v)", name, last)
	return nil
}

// TestACME obtains real certificates from Pebble for two sites, one by
// HTTP-01 and one by TLS-ALPN-01, serves both by SNI (HTTP/2 and
// HTTP/1.1) to a client verifying against Pebble's root, keeps redirect
// and HSTS behaviour, and renews them before they expire while a client
// keeps requesting, without one failed request.
func TestACME(t *testing.T) {
	const validity = 20 * time.Second
	old := acmeRenewCheck
	acmeRenewCheck = 500 * time.Millisecond
	t.Cleanup(func() { acmeRenewCheck = old })
	p := startPebble(t, validity)
	state := t.TempDir()
	storage, accessLog := filepath.Join(state, "acme"), filepath.Join(state, "access.log")
	th := startHost(t, acmeConfig(p, storage, accessLog))
	plain, secure := th.Addrs()[0], th.Addrs()[1]
	p.validate(plain, secure)
	pool := p.roots()

	// Both sites get a certificate of their own, from Pebble.
	a := waitCert(t, secure.String(), "a.test", pool, nil)
	b := waitCert(t, secure.String(), "b.test", pool, nil)
	www := waitCert(t, secure.String(), "www.b.test", pool, nil)
	if a.VerifyHostname("b.test") == nil || b.VerifyHostname("a.test") == nil {
		t.Fatalf("a site got the other's name: a %q, b %q", a.DNSNames, b.DNSNames)
	}
	if www.VerifyHostname("www.b.test") != nil {
		t.Fatalf("www.b.test: %q", www.DNSNames)
	}
	// The challenges went where the config says: Pebble fetched a.test's
	// HTTP-01 answer from the plain listener; b.test's names, with no
	// HTTP-01, were proved in TLS-ALPN-01 handshakes.
	for _, want := range []string{`"names":["a.test"],"challenges":"http-01"`, `"names":["b.test","www.b.test"],"challenges":"tls-alpn-01"`} {
		if !strings.Contains(th.logs.String(), want) {
			t.Errorf("log lacks %s", want)
		}
	}
	access, _ := os.ReadFile(accessLog)
	var challenges []string
	for _, line := range strings.Split(string(access), "\n") {
		if strings.Contains(line, "/.well-known/acme-challenge/") {
			challenges = append(challenges, line)
		}
	}
	if len(challenges) == 0 || !strings.Contains(challenges[0], `"host":"a.test:`) || !strings.Contains(challenges[0], `"status":200`) {
		t.Errorf("no HTTP-01 request answered for a.test:\n%s", access)
	}
	for _, c := range challenges {
		if strings.Contains(c, "b.test") {
			t.Errorf("an HTTP-01 request for a TLS-ALPN-01 site: %s", c)
		}
	}

	// HTTP/2 and HTTP/1.1 over TLS, with the ACME certificates.
	for _, proto := range []string{"h2", "http/1.1"} {
		for _, host := range []string{"a.test", "b.test"} {
			tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, ServerName: host, NextProtos: []string{proto}}, ForceAttemptHTTP2: proto == "h2"}
			req, _ := http.NewRequest("GET", "https://"+secure.String()+"/env", nil)
			req.Host = host
			resp, err := (&http.Client{Transport: tr}).Do(req)
			if err != nil {
				t.Fatalf("%s %s: %v", proto, host, err)
			}
			resp.Body.Close()
			if resp.StatusCode != 200 || (proto == "h2") != (resp.ProtoMajor == 2) {
				t.Fatalf("%s %s: %d over %s", proto, host, resp.StatusCode, resp.Proto)
			}
			tr.CloseIdleConnections()
		}
	}
	// Plain HTTP to a redirecting site: 308, the challenge path excepted
	// (an unknown token is not answered as a challenge: the site's own
	// redirect).
	if resp, _ := th.do(t, "GET", "a.test", "/x?q=1", nil); resp.StatusCode != http.StatusPermanentRedirect {
		t.Fatalf("plain HTTP: %d, want 308", resp.StatusCode)
	}

	// Renewal: the certificates live 20 s; certmagic renews them in the
	// last third (or in Pebble's ARI window) while a client keeps asking.
	stop := make(chan struct{})
	var failed, served int
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}, DisableKeepAlives: true}
		defer tr.CloseIdleConnections()
		for {
			select {
			case <-stop:
				return
			default:
			}
			for _, host := range []string{"a.test", "b.test"} {
				tr.TLSClientConfig.ServerName = host
				req, _ := http.NewRequest("GET", "https://"+secure.String()+"/env", nil)
				req.Host = host
				resp, err := (&http.Client{Transport: tr}).Do(req)
				if err != nil || resp.StatusCode != 200 {
					failed++
					t.Logf("during renewal: %s: %v %v", host, err, resp)
				} else {
					served++
				}
				if resp != nil {
					resp.Body.Close()
				}
			}
			time.Sleep(50 * time.Millisecond)
		}
	}()
	a2 := waitCert(t, secure.String(), "a.test", pool, a)
	b2 := waitCert(t, secure.String(), "b.test", pool, b)
	close(stop)
	wg.Wait()
	if !a2.NotAfter.After(a.NotAfter) || !b2.NotAfter.After(b.NotAfter) {
		t.Fatalf("renewed certificates do not last longer: a %v → %v, b %v → %v", a.NotAfter, a2.NotAfter, b.NotAfter, b2.NotAfter)
	}
	if failed > 0 || served == 0 {
		t.Fatalf("%d requests failed during the renewal (%d served)", failed, served)
	}
	t.Logf("renewed: a.test %v → %v, b.test %v → %v; %d requests, none failed", a.NotAfter.Format(time.TimeOnly), a2.NotAfter.Format(time.TimeOnly), b.NotAfter.Format(time.TimeOnly), b2.NotAfter.Format(time.TimeOnly), served)

	// A reload adds a name; another the CA refuses fails alone, with one
	// event naming it and the metric counting it.
	p.db.AddBlockedDomain("blocked.test")
	text := strings.Replace(acmeConfig(p, storage, accessLog), `hosts = ["b.test", "www.b.test"]`, `hosts = ["b.test", "www.b.test", "new.b.test"]`, 1) + `
[[site]]
name = "c"
hosts = ["blocked.test"]
tls = { acme = true }
  [[site.app]]
  name = "main"
  mount = "/"
  module = "{guest}"
`
	cfg, err := sites.Load(writeConfig(t, t.TempDir(), text))
	if err != nil {
		t.Fatal(err)
	}
	if err := th.Reload(context.Background(), cfg); err != nil {
		t.Fatal(err)
	}
	waitCert(t, secure.String(), "new.b.test", pool, nil)
	if leaf, _, err := handshake(t, secure.String(), "b.test", pool); err != nil || leaf.NotAfter.Before(b2.NotAfter) {
		t.Errorf("b.test after the reload: %v, %v; want its certificate kept", leaf, err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for !strings.Contains(th.logs.String(), `"name":"blocked.test"`) && time.Now().Before(deadline) {
		time.Sleep(100 * time.Millisecond)
	}
	if _, _, err := handshake(t, secure.String(), "blocked.test", pool); err == nil {
		t.Error("blocked.test: a certificate, want a failed handshake")
	}
	var failure string
	for _, line := range strings.Split(th.logs.String(), "\n") {
		if strings.Contains(line, `"name":"blocked.test"`) && strings.Contains(line, "certificate not obtained") {
			failure = line
		}
	}
	if !strings.Contains(failure, `"level":"error"`) || !strings.Contains(failure, "rejectedIdentifier") || !strings.Contains(failure, "the CA refuses to issue for this name") {
		t.Errorf("the refused name's event: %q", failure)
	}

	t.Logf("the refused name: %s", failure)

	// Metrics: each name's expiry and the failure.
	resp, err := http.Get("http://" + th.AdminAddr().String() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	// (The certificates live 20 s: a.test's may have been renewed again.)
	for _, want := range []string{`wasgi_tls_certificate_expiry_seconds{name="a.test"} `, `wasgi_tls_certificate_expiry_seconds{name="new.b.test"}`, "wasgi_acme_failures_total 1"} {
		if !strings.Contains(string(body), want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	if got := strings.Count(th.logs.String(), `"message":"certificate obtained"`); got < 5 {
		t.Errorf("%d \"certificate obtained\" events, want 3 obtained and at least 2 renewed", got)
	}
	// The certificates and the account are in the storage folder.
	if _, err := os.Stat(filepath.Join(storage, "certificates")); err != nil {
		t.Errorf("storage: %v", err)
	}

	// A second wasgi on the same storage (a restart) serves the stored
	// certificates and orders none anew: it may renew one whose window
	// has come (they live 20 s), never obtain a first one.
	th2 := startHost(t, acmeConfig(p, storage, filepath.Join(state, "access2.log")))
	for _, name := range []string{"a.test", "b.test", "www.b.test"} {
		waitCert(t, th2.Addrs()[1].String(), name, pool, nil)
	}
	for _, line := range strings.Split(th2.logs.String(), "\n") {
		if strings.Contains(line, `"message":"certificate obtained"`) && strings.Contains(line, `"renewal":false`) {
			t.Errorf("the restarted host ordered a certificate it had in storage: %s", line)
		}
	}
}
