package sites

import (
	"crypto/x509"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Outbound is what an app's guests may connect to: `outbound` and the
// outbound_* keys of an app (docs/configuration.md). The zero value allows
// nothing.
type Outbound struct {
	// Entries are the destinations, in config order.
	Entries []OutboundEntry
	// Limit caps the connections open in one instance (outbound_limit);
	// AppLimit over all the app's instances (outbound_app_limit).
	Limit, AppLimit int
	// ConnectTimeout bounds resolving, connecting and a TLS handshake
	// (outbound_connect_timeout).
	ConnectTimeout time.Duration
}

// OutboundEntry is one destination: tcp://host:port or tls://host:port.
type OutboundEntry struct {
	// TLS: a tls:// entry, TLS done by the host.
	TLS bool
	// Host is a lower-case name without trailing dot, or an IP address
	// (IPv6 without brackets).
	Host string
	// Port is 1..65535.
	Port uint16
	// CA is the absolute path of a PEM file of the certificates that
	// verify the server of a tls:// entry, instead of the system's roots;
	// "" for those.
	CA string
}

// String is the entry as a URL.
func (e OutboundEntry) String() string {
	scheme := "tcp"
	if e.TLS {
		scheme = "tls"
	}
	return scheme + "://" + net.JoinHostPort(e.Host, strconv.Itoa(int(e.Port)))
}

// Defaults of the outbound_* keys.
const (
	DefaultOutboundLimit          = 16
	DefaultOutboundAppLimit       = 256
	DefaultOutboundConnectTimeout = 5 * time.Second
)

// outbound reads an app's outbound list and limits.
func (l *loader) outbound(s *Site, ra *rawApp, p path) Outbound {
	o := Outbound{
		Limit:          l.integer(ra.OutboundLimit, p.key("outbound_limit"), DefaultOutboundLimit),
		AppLimit:       l.integer(ra.OutboundAppLimit, p.key("outbound_app_limit"), DefaultOutboundAppLimit),
		ConnectTimeout: l.duration(ra.OutboundConnectTimeout, p.key("outbound_connect_timeout"), DefaultOutboundConnectTimeout),
	}
	if o.Limit < 1 {
		l.errorf(p.key("outbound_limit"), "must be at least 1")
		o.Limit = DefaultOutboundLimit
	}
	if o.AppLimit < o.Limit {
		l.errorf(p.key("outbound_app_limit"), "must be at least outbound_limit (%d)", o.Limit)
	}
	if o.ConnectTimeout <= 0 {
		l.errorf(p.key("outbound_connect_timeout"), "must be positive")
		o.ConnectTimeout = DefaultOutboundConnectTimeout
	}
	if ra.Outbound == nil {
		return o
	}
	op := p.key("outbound")
	list, ok := ra.Outbound.([]any)
	if !ok {
		l.errorf(op, `must be an array of "tcp://host:port" or "tls://host:port" strings (or { url = ..., ca = ... } tables), not %s`, tomlType(ra.Outbound))
		return o
	}
	seen := map[string]OutboundEntry{}
	for i, v := range list {
		ep := op.at(i)
		var raw, ca string
		switch v := v.(type) {
		case string:
			raw = v
		case map[string]any:
			for k := range v {
				if k != "url" && k != "ca" {
					l.errorf(ep.key(k), `unknown key: an outbound table has "url" and "ca"`)
				}
			}
			if !l.requiredString(v["url"], ep.key("url")) {
				continue
			}
			raw = l.str(v["url"], ep.key("url"), "")
			ca = l.str(v["ca"], ep.key("ca"), "")
		default:
			l.errorf(ep, `must be a "tcp://host:port" string or a { url = ..., ca = ... } table, not %s`, tomlType(v))
			continue
		}
		e, problem := parseOutbound(raw)
		if problem != "" {
			l.errorf(ep, "%q: %s", raw, problem)
			continue
		}
		if ca != "" {
			if !e.TLS {
				l.errorf(ep.key("ca"), "a CA file applies to tls:// entries only")
			}
			e.CA = resolve(s.Root, ca)
			if b, err := ReadPEM(e.CA); err != nil {
				l.errorf(ep.key("ca"), "CA file: %v", err)
			} else if !x509.NewCertPool().AppendCertsFromPEM(b) {
				l.errorf(ep.key("ca"), "CA file %s holds no PEM certificate", e.CA)
			}
		}
		key := net.JoinHostPort(e.Host, strconv.Itoa(int(e.Port)))
		if prev, dup := seen[key]; dup {
			if prev.TLS != e.TLS {
				l.errorf(ep, "%s is listed both as tcp:// and as tls://: a destination is one or the other", key)
			} else {
				l.errorf(ep, "%s is listed twice", e)
			}
			continue
		}
		seen[key] = e
		o.Entries = append(o.Entries, e)
	}
	return o
}

// parseOutbound parses "tcp://host:port" or "tls://host:port", or says
// what is wrong with it.
func parseOutbound(raw string) (OutboundEntry, string) {
	u, err := url.Parse(raw)
	if err != nil || u.Opaque != "" {
		return OutboundEntry{}, `not a URL: write "tcp://host:port" or "tls://host:port"`
	}
	var e OutboundEntry
	switch u.Scheme {
	case "tcp":
	case "tls":
		e.TLS = true
	default:
		return e, `the scheme must be tcp:// (a plain connection) or tls:// (TLS done by wasgi)`
	}
	switch {
	case u.User != nil:
		return e, "no user or password here: give credentials to the app (env), not to the entry"
	case u.Path != "" || u.RawQuery != "" || u.Fragment != "":
		return e, "only scheme://host:port: no path, query or fragment"
	case u.Port() == "":
		return e, "the port is required (tcp://db.internal:5432)"
	}
	port, err := strconv.ParseUint(u.Port(), 10, 16)
	if err != nil || port == 0 {
		return e, "the port must be 1 to 65535"
	}
	e.Port = uint16(port)
	host := u.Hostname()
	if ip, err := netip.ParseAddr(host); err == nil {
		if ip.Zone() != "" {
			return e, "an IPv6 zone is not allowed"
		}
		e.Host = ip.Unmap().String()
		return e, ""
	}
	if strings.Contains(host, "*") {
		return e, "wildcards are not supported: list each host"
	}
	host = strings.TrimSuffix(strings.ToLower(host), ".")
	if !validHostname(host) {
		return e, fmt.Sprintf("%q is not a host name or IP address", host)
	}
	e.Host = host
	return e, ""
}
