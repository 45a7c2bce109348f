package host

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/caddyserver/certmagic"
	"github.com/rs/zerolog"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/wasgi/wasgi/sites"
)

// acmeRenewCheck is how often certificates are checked for renewal; 0 is
// certmagic's default (10 minutes). Tests shorten it.
var acmeRenewCheck time.Duration

// acmeManager obtains and renews the certificates of the sites whose tls
// has acme = true, with certmagic (the library Caddy uses): HTTP-01 is
// answered on the first plain listener, TLS-ALPN-01 in the handshakes of
// the first HTTPS listener, so certmagic never opens a port of its own.
// One manager lives as long as [server.acme] and the listeners stay the
// same; a reload changes only the names it manages.
type acmeManager struct {
	log      zerolog.Logger
	settings acmeSettings
	cache    *certmagic.Cache
	ctx      context.Context
	cancel   context.CancelFunc
	failures *atomic.Int64 // obtain and renew attempts that failed (the Host's, across managers)

	mu      sync.Mutex
	configs map[string]*certmagic.Config // by challenge set (challengeKey)
	managed map[string]string            // name → its challenge set
}

// acmeSettings are what a manager is built from.
type acmeSettings struct {
	acme      sites.ACME
	httpAddr  string // the first plain listener ("" without one)
	httpsAddr string // the first HTTPS listener
}

func (a acmeSettings) equal(b acmeSettings) bool {
	return a.httpAddr == b.httpAddr && a.httpsAddr == b.httpsAddr && a.acme.Email == b.acme.Email &&
		a.acme.CA == b.acme.CA && a.acme.CARoot == b.acme.CARoot && a.acme.Storage == b.acme.Storage
}

// challengeKey names a set of challenge types, keeping only those a
// listener can answer.
func challengeKey(ch []string, set acmeSettings) string {
	var keep []string
	for _, c := range ch {
		if c == sites.HTTP01 && set.httpAddr == "" {
			continue // no plain listener: sites.acmeUse made sure another remains
		}
		keep = append(keep, c)
	}
	slices.Sort(keep)
	return strings.Join(keep, " ")
}

// acmeWanted is what cfg asks ACME for: each name with its challenge
// set, and the site it belongs to.
func acmeWanted(cfg *sites.Config, set acmeSettings) (byName map[string]string, site map[string]string) {
	byName, site = map[string]string{}, map[string]string{}
	for s, names := range cfg.ACMENames() {
		var t *sites.TLS
		for _, st := range cfg.Sites {
			if st.Name == s {
				t = st.TLS
			}
		}
		if t == nil {
			t = cfg.Server.TLS
		}
		key := challengeKey(cfg.Challenges(t), set)
		for _, n := range names {
			n = strings.ToLower(n)
			byName[n], site[n] = key, s
		}
	}
	return byName, site
}

// newACMEManager starts a certificate cache over set's storage.
func newACMEManager(set acmeSettings, log zerolog.Logger, failures *atomic.Int64) (*acmeManager, error) {
	m := &acmeManager{log: log.With().Str("component", "acme").Logger(), settings: set, failures: failures,
		configs: map[string]*certmagic.Config{}, managed: map[string]string{}}
	if set.acme.CARoot != "" {
		pem, err := sites.ReadPEM(set.acme.CARoot)
		if err != nil {
			return nil, fmt.Errorf("host: [server.acme] ca_root: %w", err)
		}
		if !x509.NewCertPool().AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("host: [server.acme] ca_root %s: no PEM certificate in it", set.acme.CARoot)
		}
	}
	m.ctx, m.cancel = context.WithCancel(context.Background())
	m.cache = certmagic.NewCache(certmagic.CacheOptions{
		GetConfigForCert: func(c certmagic.Certificate) (*certmagic.Config, error) {
			m.mu.Lock()
			defer m.mu.Unlock()
			key := challengeKey(set.acme.Challenges, set)
			for _, n := range c.Names {
				if k, ok := m.managed[strings.ToLower(n)]; ok {
					key = k
					break
				}
			}
			return m.config(key), nil
		},
		RenewCheckInterval: acmeRenewCheck,
		Logger:             zapToZerolog(m.log),
	})
	return m, nil
}

// config returns the certmagic config of a challenge set, made on first
// use; m.mu is held.
func (m *acmeManager) config(key string) *certmagic.Config {
	if c := m.configs[key]; c != nil {
		return c
	}
	a := m.settings.acme
	zl := zapToZerolog(m.log)
	cfg := certmagic.New(m.cache, certmagic.Config{
		Storage: &certmagic.FileStorage{Path: a.Storage},
		Logger:  zl,
		OnEvent: m.event,
	})
	iss := certmagic.ACMEIssuer{
		CA:     a.CA,
		Email:  a.Email,
		Agreed: true, // configuring acme is accepting the CA's terms, as in Caddy
		// A retry after a failure is tried on TestCA first: Let's
		// Encrypt's staging for Let's Encrypt, else the same CA.
		TestCA:                  a.CA,
		DisableHTTPChallenge:    !strings.Contains(key, sites.HTTP01),
		DisableTLSALPNChallenge: !strings.Contains(key, sites.TLSALPN01),
		Logger:                  zl,
		CertObtainTimeout:       5 * time.Minute,
	}
	if a.CA == sites.LetsEncrypt {
		iss.TestCA = certmagic.LetsEncryptStagingCA
	}
	if a.CARoot != "" {
		pool := x509.NewCertPool()
		pem, _ := sites.ReadPEM(a.CARoot) // read once already by newACMEManager
		pool.AppendCertsFromPEM(pem)
		iss.TrustedRoots = pool
	}
	// certmagic binds the challenge port itself unless it is taken; the
	// exact address of wasgi's listener makes it find ours and leave
	// the answering to handleHTTP and getCertificate.
	if host, port, err := net.SplitHostPort(m.settings.httpAddr); err == nil {
		iss.ListenHost = host
		iss.AltHTTPPort, _ = strconv.Atoi(port)
	}
	if host, port, err := net.SplitHostPort(m.settings.httpsAddr); err == nil {
		if iss.ListenHost == "" {
			iss.ListenHost = host
		}
		iss.AltTLSALPNPort, _ = strconv.Atoi(port)
	}
	cfg.Issuers = []certmagic.Issuer{certmagic.NewACMEIssuer(cfg, iss)}
	m.configs[key] = cfg
	return cfg
}

// manage makes the manager obtain and renew exactly the names of byName
// (name → challenge set), in the background: the listeners must be
// serving to answer the challenges. Names no longer wanted are dropped
// from maintenance (their files stay in storage).
func (m *acmeManager) manage(byName map[string]string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var drop []certmagic.SubjectIssuer
	for n, k := range m.managed {
		if byName[n] != k {
			drop = append(drop, certmagic.SubjectIssuer{Subject: n})
			delete(m.managed, n)
		}
	}
	if len(drop) > 0 {
		m.cache.RemoveManaged(drop)
	}
	add := map[string][]string{}
	for n, k := range byName {
		if _, ok := m.managed[n]; !ok {
			add[k] = append(add[k], n)
			m.managed[n] = k
		}
	}
	for k, names := range add {
		slices.Sort(names)
		m.log.Info().Strs("names", names).Str("challenges", k).Str("ca", m.settings.acme.CA).Msg("managing certificates")
		if err := m.config(k).ManageAsync(m.ctx, names); err != nil {
			m.log.Error().Err(err).Strs("names", names).Msg("acme: cannot manage certificates")
		}
	}
}

// event turns certmagic's events into wasgi's log events and counters:
// one event per obtained certificate and per failed attempt.
func (m *acmeManager) event(_ context.Context, name string, data map[string]any) error {
	id, _ := data["identifier"].(string)
	renewal, _ := data["renewal"].(bool)
	switch name {
	case "cert_obtained":
		ev := m.log.Info().Str("name", id).Bool("renewal", renewal)
		if at := m.expiry(id); at > 0 {
			ev = ev.Time("not_after", time.Unix(at, 0).UTC())
		}
		ev.Msg("certificate obtained")
	case "cert_failed":
		m.failures.Add(1)
		err, _ := data["error"].(error)
		m.log.Error().Str("name", id).Bool("renewal", renewal).Err(err).Msg("certificate not obtained: " + acmeHint(err))
	}
	return nil
}

// acmeHint says what to look at for a failed order, from the ACME
// problem type (RFC 8555 section 6.7) in err.
func acmeHint(err error) string {
	msg := ""
	if err != nil {
		msg = err.Error()
	}
	switch {
	case strings.Contains(msg, "rateLimited"):
		return "the CA's rate limit; certmagic retries later"
	case strings.Contains(msg, "rejectedIdentifier"):
		return "the CA refuses to issue for this name (its policy: e.g. a name under .test, .local or another non-public suffix)"
	case strings.Contains(msg, "error:connection"), strings.Contains(msg, "error:unauthorized"), strings.Contains(msg, "error:dns"), strings.Contains(msg, "error:tls"):
		return "the CA could not prove the name: check that its DNS points at this host and that port 80 (http-01) or 443 (tls-alpn-01) reaches wasgi"
	}
	return "check that the CA is reachable and that the name points at this host; certmagic retries with backoff"
}

// expiry is the NotAfter (Unix seconds) of the cached certificate for
// name; 0 when there is none.
func (m *acmeManager) expiry(name string) int64 {
	var at int64
	for _, c := range m.cache.AllMatchingCertificates(name) {
		if c.Leaf != nil && (at == 0 || c.Leaf.NotAfter.Unix() > at) {
			at = c.Leaf.NotAfter.Unix()
		}
	}
	return at
}

// expiries yields each managed name with its certificate's expiry.
func (m *acmeManager) expiries(yield func(string, int64)) {
	m.mu.Lock()
	names := make([]string, 0, len(m.managed))
	for n := range m.managed {
		names = append(names, n)
	}
	m.mu.Unlock()
	slices.Sort(names)
	for _, n := range names {
		if at := m.expiry(n); at > 0 {
			yield(n, at)
		}
	}
}

// getCertificate answers a handshake for a managed name: its certificate,
// or the TLS-ALPN-01 challenge certificate when the CA is validating.
func (m *acmeManager) getCertificate(hello *tls.ClientHelloInfo) (*tls.Certificate, error) {
	m.mu.Lock()
	key, ok := m.managed[strings.ToLower(hello.ServerName)]
	var cfg *certmagic.Config
	if ok {
		cfg = m.config(key)
	}
	m.mu.Unlock()
	if !ok {
		return nil, fmt.Errorf("no certificate for %q", hello.ServerName)
	}
	return cfg.GetCertificate(hello)
}

// handleHTTP answers an HTTP-01 challenge request for a managed name; it
// reports false for every other request.
func (m *acmeManager) handleHTTP(w http.ResponseWriter, r *http.Request) bool {
	if !certmagic.LooksLikeHTTPChallenge(r) {
		return false
	}
	m.mu.Lock()
	key, ok := m.managed[strings.ToLower(hostName(r.Host))]
	var cfg *certmagic.Config
	if ok {
		cfg = m.config(key)
	}
	m.mu.Unlock()
	if !ok {
		return false
	}
	for _, iss := range cfg.Issuers {
		if am, ok := iss.(*certmagic.ACMEIssuer); ok && am.HandleHTTPChallenge(w, r) {
			return true
		}
	}
	return false
}

// stop ends maintenance; certificates stay in storage.
func (m *acmeManager) stop() {
	m.cancel()
	m.cache.Stop()
}

// startACME makes the ACME manager follow cfg: called once the listeners
// serve (the challenges need them) and after every reload. A change of
// [server.acme] or of the listeners builds a new manager, which finds
// the old one's certificates in storage.
func (h *Host) startACME(cfg *sites.Config) {
	h.mu.Lock()
	set := acmeSettings{acme: *cfg.Server.ACME, httpAddr: h.firstHTTP, httpsAddr: h.firstHTTPS}
	h.mu.Unlock()
	byName, _ := acmeWanted(cfg, set)
	old := h.acme.Load()
	if len(byName) == 0 {
		if old != nil {
			h.acme.Store(nil)
			old.stop()
		}
		return
	}
	if old != nil && old.settings.equal(set) {
		old.manage(byName)
		return
	}
	m, err := newACMEManager(set, h.log, &h.acmeFailures)
	if err != nil {
		h.log.Error().Err(err).Msg("acme: no certificates will be obtained")
		return
	}
	m.manage(byName)
	h.acme.Store(m)
	if old != nil {
		old.stop()
	}
}

// zapToZerolog is a zap logger writing to log at debug level: certmagic
// logs every step, and wasgi's own events (acmeManager.event) say what
// an operator needs.
func zapToZerolog(log zerolog.Logger) *zap.Logger {
	return zap.New(zerologCore{log: log.With().Str("source", "certmagic").Logger()})
}

// zerologCore is a zapcore.Core over a zerolog logger.
type zerologCore struct {
	log    zerolog.Logger
	fields []zapcore.Field
}

func (c zerologCore) Enabled(zapcore.Level) bool { return c.log.GetLevel() <= zerolog.DebugLevel }

func (c zerologCore) With(fs []zapcore.Field) zapcore.Core {
	return zerologCore{log: c.log, fields: append(slices.Clip(c.fields), fs...)}
}

func (c zerologCore) Check(e zapcore.Entry, ce *zapcore.CheckedEntry) *zapcore.CheckedEntry {
	if c.Enabled(e.Level) {
		return ce.AddCore(e, c)
	}
	return ce
}

func (c zerologCore) Write(e zapcore.Entry, fs []zapcore.Field) error {
	enc := zapcore.NewMapObjectEncoder()
	for _, f := range append(slices.Clip(c.fields), fs...) {
		f.AddTo(enc)
	}
	c.log.Debug().Str("level_certmagic", e.Level.String()).Fields(enc.Fields).Msg(e.Message)
	return nil
}

func (zerologCore) Sync() error { return nil }
