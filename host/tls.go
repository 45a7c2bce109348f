package host

import (
	"crypto/sha256"
	"crypto/subtle"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"iter"
	"maps"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/wasgi/wasgi/sites"
)

// certs are the certificates and admin secret of one config, read when
// it is built (at start and on every reload) and swapped with it.
type certs struct {
	def    *tls.Certificate            // [server] tls; nil for none
	bySite map[string]*tls.Certificate // a site's own tls, by site name
	admin  *tls.Certificate            // [server] admin_tls
	token  [sha256.Size]byte           // SHA-256 of the admin token
	hasTok bool
	acme   map[string]bool // names (lower case) whose certificates come from ACME
}

// loadCerts reads every certificate pair and the admin token file of cfg
// with sites.ReadPEM. A problem is reported at the config key naming the
// file, so that a bad renewal refuses the reload with the place to fix.
func loadCerts(cfg *sites.Config) (*certs, error) {
	c := &certs{bySite: map[string]*tls.Certificate{}, acme: map[string]bool{}}
	for _, names := range cfg.ACMENames() {
		for _, n := range names {
			c.acme[strings.ToLower(n)] = true
		}
	}
	var errs []error
	load := func(t *sites.TLS) *tls.Certificate {
		pair, err := loadPair(t)
		if err != nil {
			errs = append(errs, err)
		}
		return pair
	}
	if cfg.Server.TLS != nil && !cfg.Server.TLS.ACME {
		c.def = load(cfg.Server.TLS)
	}
	if cfg.Server.AdminTLS != nil {
		c.admin = load(cfg.Server.AdminTLS)
	}
	for _, s := range cfg.Sites {
		if s.TLS != nil && !s.TLS.ACME {
			if pair := load(s.TLS); pair != nil {
				c.bySite[s.Name] = pair
			}
		}
	}
	if f := cfg.Server.AdminTokenFile; f != "" {
		b, err := sites.ReadPEM(f)
		tok := strings.TrimSpace(string(b))
		switch {
		case err != nil:
			errs = append(errs, fmt.Errorf("host: admin_token_file: %w", err))
		case len(tok) < 16:
			// Never the token itself in a message: only its length.
			errs = append(errs, fmt.Errorf("host: admin_token_file %s: the token has %d characters; use at least 16", f, len(tok)))
		default:
			c.token, c.hasTok = sha256.Sum256([]byte(tok)), true
		}
	}
	return c, errors.Join(errs...)
}

// expiries yields each DNS name of the config's certificates, sorted,
// with the earliest NotAfter (Unix seconds) of the certificates naming it.
func (c *certs) expiries() iter.Seq2[string, int64] {
	at := map[string]int64{}
	for _, pair := range append(slices.Collect(maps.Values(c.bySite)), c.def, c.admin) {
		if pair == nil || pair.Leaf == nil {
			continue
		}
		for _, n := range pair.Leaf.DNSNames {
			if t, ok := at[n]; !ok || pair.Leaf.NotAfter.Unix() < t {
				at[n] = pair.Leaf.NotAfter.Unix()
			}
		}
	}
	return func(yield func(string, int64) bool) {
		for _, n := range slices.Sorted(maps.Keys(at)) {
			if !yield(n, at[n]) {
				return
			}
		}
	}
}

// loadPair reads and parses one certificate and key; its Leaf is set.
func loadPair(t *sites.TLS) (*tls.Certificate, error) {
	certPEM, err := sites.ReadPEM(t.Cert)
	if err != nil {
		return nil, t.CertAt.Errorf("%v", err)
	}
	keyPEM, err := sites.ReadPEM(t.Key)
	if err != nil {
		return nil, t.KeyAt.Errorf("%v", err)
	}
	pair, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		// X509KeyPair's errors name the key ("private key does not match
		// public key", "failed to find any PEM data in key input") more
		// often than the certificate.
		at := t.KeyAt
		if strings.Contains(err.Error(), "certificate input") {
			at = t.CertAt
		}
		return nil, at.Errorf("%s and %s: %v", t.Cert, t.Key, err)
	}
	return &pair, nil
}

// checkCerts is `wasgi check`'s look at the certificates: what loadCerts
// refuses, plus a certificate that is expired or not yet valid, and a
// site's own certificate that does not cover each of its hosts.
func checkCerts(cfg *sites.Config, now time.Time) error {
	if _, err := loadCerts(cfg); err != nil {
		return err
	}
	var errs []error
	valid := func(t *sites.TLS) *x509.Certificate {
		pair, _ := loadPair(t)
		leaf := pair.Leaf
		switch {
		case now.After(leaf.NotAfter):
			errs = append(errs, t.CertAt.Errorf("%s expired on %s", t.Cert, leaf.NotAfter.UTC().Format(time.RFC3339)))
		case now.Before(leaf.NotBefore):
			errs = append(errs, t.CertAt.Errorf("%s is not valid before %s", t.Cert, leaf.NotBefore.UTC().Format(time.RFC3339)))
		}
		return leaf
	}
	for _, t := range []*sites.TLS{cfg.Server.TLS, cfg.Server.AdminTLS} {
		if t != nil && !t.ACME {
			valid(t)
		}
	}
	for _, s := range cfg.Sites {
		if s.TLS == nil || s.TLS.ACME {
			continue
		}
		leaf := valid(s.TLS)
		for _, h := range s.Hosts {
			name := h
			switch {
			case h == "*":
				continue // any name: no certificate covers them all
			case strings.HasPrefix(h, "*."):
				// A certificate wildcard covers one label; the router's
				// covers every depth: check the first.
				name = "wasgi-check" + h[1:]
			}
			if leaf.VerifyHostname(name) != nil {
				errs = append(errs, s.TLS.CertAt.Errorf("%s does not cover host %q of site %q", s.TLS.Cert, h, s.Name))
			}
		}
	}
	return errors.Join(errs...)
}

// getCertificate picks the certificate for a TLS handshake by SNI, over
// the sites' hosts as the router matches them: the site's own, or the
// [server] default. A name no site claims goes to the "*" site, as its
// requests would. No certificate at all fails the handshake.
func (h *Host) getCertificate(hello *tls.ClientHelloInfo) (*tls.Certificate, error) {
	s := h.state.Load()
	if st := s.vhosts.lookup(hello.ServerName); st != nil {
		if c := s.certs.bySite[st.name]; c != nil {
			return c, nil
		}
	}
	if m := h.acme.Load(); m != nil && s.certs.acme[strings.ToLower(hello.ServerName)] {
		return m.getCertificate(hello) // its certificate, or a TLS-ALPN-01 answer
	}
	if s.certs.def != nil {
		return s.certs.def, nil
	}
	return nil, fmt.Errorf("no certificate for %q", hello.ServerName)
}

// tlsConfig is the TLS of the HTTPS listeners: by SNI, re-read on reload.
// HTTP/2 is added by ServeTLS (ALPN "h2", then "http/1.1").
func (h *Host) tlsConfig() *tls.Config {
	// acme-tls/1 is offered to the CA's validation handshakes only
	// (RFC 8737): getCertificate answers them, no request follows.
	return &tls.Config{MinVersion: tls.VersionTLS12, GetCertificate: h.getCertificate, NextProtos: []string{"h2", "http/1.1", "acme-tls/1"}}
}

// adminAuth requires the admin token, as "Authorization: Bearer TOKEN"
// (or as the password of Basic authentication, for a browser), on every
// admin page but /healthz and /readyz (load balancers probe
// those without secrets). Without admin_token_file it lets all through.
func (h *Host) adminAuth(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c := h.state.Load().certs
		if !c.hasTok || r.URL.Path == "/healthz" || r.URL.Path == "/readyz" {
			next.ServeHTTP(w, r)
			return
		}
		tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		if !ok {
			// A browser, for /status, has no way to send a bearer token:
			// it asks for a user and password and sends them as Basic;
			// the password is the token, the user anything.
			_, tok, ok = r.BasicAuth()
		}
		// Comparing digests keeps the time independent of the token's
		// length too.
		sum := sha256.Sum256([]byte(strings.TrimSpace(tok)))
		if !ok || subtle.ConstantTimeCompare(sum[:], c.token[:]) != 1 {
			w.Header().Set("WWW-Authenticate", `Bearer realm="wasgi admin"`)
			w.Header().Add("WWW-Authenticate", `Basic realm="wasgi admin", charset="UTF-8"`)
			http.Error(w, "401 unauthorized: the admin token is required", http.StatusUnauthorized)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// redirectHTTPS answers a plain HTTP request to a site with
// redirect_https: 308 to the same host, on the first HTTPS listener's port
// (left out when 443), same path and query.
func (h *Host) redirectHTTPS(w http.ResponseWriter, r *http.Request) {
	host := hostName(r.Host)
	if strings.Contains(host, ":") {
		host = "[" + host + "]"
	}
	h.mu.Lock()
	port := h.tlsPort
	h.mu.Unlock()
	if port != "" && port != "443" {
		host += ":" + port
	}
	target := "https://" + host + r.URL.RequestURI()
	w.Header().Set("Location", target)
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(http.StatusPermanentRedirect)
	fmt.Fprintf(w, "<a href=\"%s\">Permanent Redirect</a>.\n", htmlEscaper.Replace(target))
}

var htmlEscaper = strings.NewReplacer(`&`, "&amp;", `<`, "&lt;", `>`, "&gt;", `"`, "&#34;", `'`, "&#39;")
