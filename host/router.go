package host

import (
	"net"
	"path"
	"sort"
	"strings"
)

// vhosts picks a site by the request's Host.
//
// # Precedence
//
// An exact host name wins; then the wildcard "*.example.com" with the
// longest suffix (it matches any depth below example.com, not example.com
// itself, as Apache's ServerAlias globs do); then the site named "*".
type vhosts struct {
	exact map[string]*site
	wild  []wildcard // longest suffix first
	def   *site
}

type wildcard struct {
	suffix string // ".example.com"
	site   *site
}

func (v *vhosts) add(host string, s *site) {
	switch {
	case host == "*":
		v.def = s
	case strings.HasPrefix(host, "*."):
		v.wild = append(v.wild, wildcard{suffix: host[1:], site: s})
		sort.SliceStable(v.wild, func(i, j int) bool { return len(v.wild[i].suffix) > len(v.wild[j].suffix) })
	default:
		v.exact[hostName(host)] = s
	}
}

// lookup finds the site for a Host header value.
func (v *vhosts) lookup(hostport string) *site {
	h := hostName(hostport)
	if s := v.exact[h]; s != nil {
		return s
	}
	for _, w := range v.wild {
		if len(h) > len(w.suffix) && strings.HasSuffix(h, w.suffix) {
			return w.site
		}
	}
	return v.def
}

// hostName strips the port and a final dot and lower-cases a Host value.
func hostName(hostport string) string {
	h := hostport
	if i := strings.LastIndexByte(h, ':'); i >= 0 && !strings.HasSuffix(h, "]") {
		if hh, _, err := net.SplitHostPort(h); err == nil {
			h = hh
		}
	} else if strings.HasPrefix(h, "[") && strings.HasSuffix(h, "]") {
		h = h[1 : len(h)-1]
	}
	h = strings.TrimSuffix(h, ".")
	for i := 0; i < len(h); i++ {
		if c := h[i]; c >= 'A' && c <= 'Z' {
			return strings.ToLower(h)
		}
	}
	return h
}

// route is a URL prefix of a site: an app mount or an alias.
type route struct {
	prefix string // "/" or "/mysite" (apps), "/static/" or "/robots.txt" (aliases)
	exact  bool   // a single-file alias matches only its own URL
	app    *app
	alias  *alias
}

// match reports whether the cleaned path p falls under the route.
func (r *route) match(p string) bool {
	switch {
	case r.exact:
		return p == r.prefix
	case r.prefix == "/":
		return true
	case strings.HasSuffix(r.prefix, "/"):
		return strings.HasPrefix(p, r.prefix) || p == r.prefix[:len(r.prefix)-1]
	default: // an app mount "/mysite" owns "/mysite" and "/mysite/..."
		return strings.HasPrefix(p, r.prefix) && (len(p) == len(r.prefix) || p[len(r.prefix)] == '/')
	}
}

// sortRoutes orders routes so that the first match is the longest prefix.
func sortRoutes(rs []*route) {
	sort.SliceStable(rs, func(i, j int) bool { return len(rs[i].prefix) > len(rs[j].prefix) })
}

// lookup returns the site's route for a cleaned path, or nil.
func (s *site) lookup(p string) *route {
	for _, r := range s.routes {
		if r.match(p) {
			return r
		}
	}
	return nil
}

// cleanPath cleans a decoded URL path once: "//", "." and ".." go away (a
// ".." cannot climb above "/"), a trailing slash stays. It reports false
// for paths a router must never see: not starting with "/", or holding NUL.
func cleanPath(p string) (string, bool) {
	if p == "" || p[0] != '/' || strings.IndexByte(p, 0) >= 0 {
		return "", false
	}
	c := path.Clean(p)
	if c != "/" && p[len(p)-1] == '/' {
		c += "/"
	}
	return c, true
}

// splitMount splits a path under an app mount into SCRIPT_NAME and
// PATH_INFO, as mod_wsgi's WSGIScriptAlias does: "/" gives ("", p).
func splitMount(mount, p string) (scriptName, pathInfo string) {
	if mount == "/" {
		return "", p
	}
	return mount, p[len(mount):]
}
