package sites

import (
	"net/netip"
	"net/url"
	"path/filepath"
	"slices"
	"strings"
)

// acme reads the [server.acme] table at ap; its defaults when r is nil.
func (l *loader) acme(r *rawACME, ap path, cacheDir string) *ACME {
	a := &ACME{CA: LetsEncrypt, Storage: filepath.Join(cacheDir, "acme"), Challenges: []string{HTTP01, TLSALPN01}}
	if r == nil {
		return a
	}
	if r.Email != nil {
		a.Email = l.str(r.Email, ap.key("email"), "")
		if at := strings.IndexByte(a.Email, '@'); a.Email != "" && (at < 1 || at == len(a.Email)-1 || strings.ContainsAny(a.Email, " \t\r\n<>")) {
			l.errorf(ap.key("email"), "%q is not an email address", a.Email)
		}
	}
	if r.CA != nil {
		cp := ap.key("ca")
		if a.CA = l.nonEmpty(r.CA, cp); a.CA != "" {
			// RFC 8555 section 6.1: ACME is HTTPS only.
			if u, err := url.Parse(a.CA); err != nil || u.Scheme != "https" || u.Host == "" {
				l.errorf(cp, "%q is not an https:// URL of an ACME directory", a.CA)
			}
		}
	}
	if r.CARoot != nil {
		cp := ap.key("ca_root")
		if f := l.nonEmpty(r.CARoot, cp); f != "" {
			a.CARoot = resolve(l.dir, f)
			l.checkPath(cp, "CA file", a.CARoot, false)
		}
	}
	if r.Storage != nil {
		if f := l.nonEmpty(r.Storage, ap.key("storage")); f != "" {
			a.Storage = resolve(l.dir, f) // created when first needed
		}
	}
	if r.Challenges != nil {
		a.Challenges = l.challenges(r.Challenges, ap.key("challenges"))
	}
	return a
}

// challenges reads a non-empty list of ACME challenge types.
func (l *loader) challenges(v any, cp path) []string {
	list, ok := l.strList(v, cp)
	if !ok {
		return nil
	}
	if len(list) == 0 {
		l.errorf(cp, `must list at least one of "http-01", "tls-alpn-01"`)
	}
	for i, c := range list {
		switch {
		case c != HTTP01 && c != TLSALPN01:
			l.errorf(cp.at(i), `%q is not one of "http-01", "tls-alpn-01" (wasgi does no DNS challenge)`, c)
		case slices.Index(list, c) < i:
			l.errorf(cp.at(i), "%q is listed twice", c)
		}
	}
	return list
}

// acmeUse checks what ACME needs of the sites that use it: names a CA
// can prove by HTTP or TLS (no wildcard, no "*", no IP address) and a
// listener for one of their challenges.
func (l *loader) acmeUse(cfg *Config) {
	for i, s := range cfg.Sites {
		if s.TLS == nil || !s.TLS.ACME {
			continue
		}
		tp := root.key("site").at(i).key("tls")
		for _, h := range s.Hosts {
			if !ACMEName(h) {
				l.errorf(tp.key("acme"), "ACME cannot prove host %q by HTTP or TLS (a wildcard needs a DNS challenge): give site %q a cert and key", h, s.Name)
			}
		}
		if ch := cfg.Challenges(s.TLS); !slices.Contains(ch, TLSALPN01) && len(cfg.Server.Listen) == 0 {
			l.errorf(tp, `challenges are %q only, which needs a plain HTTP listener: add listen to [server], or "tls-alpn-01"`, ch)
		}
	}
	if t := cfg.Server.TLS; t != nil && t.ACME {
		if ch := cfg.Challenges(t); !slices.Contains(ch, TLSALPN01) && len(cfg.Server.Listen) == 0 {
			l.errorf(root.key("server").key("tls"), `challenges are %q only, which needs a plain HTTP listener: add listen to [server], or "tls-alpn-01"`, ch)
		}
	}
}

// ACMEName reports whether a CA can issue a certificate for host through
// an HTTP-01 or TLS-ALPN-01 challenge: a DNS name, not a wildcard, "*"
// or an IP address.
func ACMEName(host string) bool {
	if host == "" || strings.Contains(host, "*") {
		return false
	}
	_, err := netip.ParseAddr(strings.Trim(host, "[]"))
	return err != nil
}

// Challenges are the ACME challenge types for certificates of t: its own,
// else [server.acme]'s.
func (cfg *Config) Challenges(t *TLS) []string {
	if t != nil && len(t.Challenges) > 0 {
		return t.Challenges
	}
	return cfg.Server.ACME.Challenges
}

// ACMENames lists, per site name, the host names whose certificates come
// from ACME: every host of a site with tls = { acme = true }, and the
// hosts ACME can prove (see ACMEName) of a site without a tls of its own
// when [server] tls has acme = true.
func (cfg *Config) ACMENames() map[string][]string {
	out := map[string][]string{}
	def := cfg.Server.TLS != nil && cfg.Server.TLS.ACME
	for _, s := range cfg.Sites {
		switch {
		case s.TLS != nil && s.TLS.ACME:
			out[s.Name] = slices.Clone(s.Hosts)
		case s.TLS == nil && def:
			for _, h := range s.Hosts {
				if ACMEName(h) {
					out[s.Name] = append(out[s.Name], h)
				}
			}
		}
	}
	return out
}
