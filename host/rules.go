package host

import (
	"net/http"
	"net/netip"
	"slices"
	"sort"
	"strings"

	"github.com/wasgi/wasgi/sites"
)

// accessRule is a [[site.location]] (URL prefix) or [[site.directory]]
// (filesystem path) block.
//
// # Precedence
//
// The most specific rule of each kind applies: the longest location
// prefix, the longest directory path. A matching location decides access
// (it is applied after directories, as Apache merges <Location> last); else,
// for static files, the directory rule covering the file decides, and a
// file that no directory rule covers is denied, as Apache 2.4 does with
// `Require all denied` on `/`. Apps are reachable unless a location says
// otherwise. Options (FollowSymLinks, Indexes) come from the directory rule.
type accessRule struct {
	prefix   string // URL prefix, or absolute directory path
	require  []sites.Rule
	opts     sites.Options
	auth     string
	realm    string
	passAuth bool
}

// verdict is the outcome of a require list.
type verdict int

const (
	granted verdict = iota
	denied
	needUser // only an authenticated user could be admitted: 401
)

// evaluate applies a require list (RequireAny: one rule admitting is
// enough) to a client address and an authenticated user ("" if none).
func evaluate(rules []sites.Rule, remote netip.Addr, user string, groups []string) verdict {
	v := denied
	for _, r := range rules {
		switch r.Kind {
		case sites.RuleAllGranted:
			return granted
		case sites.RuleIP:
			for _, n := range r.Nets {
				if remote.IsValid() && n.Contains(remote) {
					return granted
				}
			}
		case sites.RuleValidUser, sites.RuleUser, sites.RuleGroup:
			if user == "" {
				v = needUser
				continue
			}
			switch {
			case r.Kind == sites.RuleValidUser,
				r.Kind == sites.RuleUser && slices.Contains(r.Names, user):
				return granted
			case r.Kind == sites.RuleGroup:
				for _, g := range groups {
					if slices.Contains(r.Names, g) {
						return granted
					}
				}
			}
		}
	}
	return v
}

// remoteAddr is the client's address for ip rules.
func remoteAddr(r *http.Request) netip.Addr {
	ap, err := netip.ParseAddrPort(r.RemoteAddr)
	if err != nil {
		return netip.Addr{}
	}
	return ap.Addr().Unmap()
}

// location returns the most specific location rule for a cleaned URL path,
// and whether the request's Authorization header may reach the app.
//
// A block without require entries decides nothing about access (a location
// may exist only to set pass_authorization, a directory only for options):
// access comes from the most specific block that has them, settings from
// the most specific block of all.
func (s *site) location(p string) (access *accessRule, passAuth bool) {
	first := true
	for _, l := range s.locations {
		if !sites.UnderPrefix(p, l.prefix) {
			continue
		}
		if first {
			passAuth, first = l.passAuth, false
		}
		if len(l.require) > 0 {
			return l, passAuth
		}
	}
	return nil, passAuth
}

// directory returns the most specific directory rule with require entries
// covering a file, and the options of the most specific rule of all.
func (s *site) directory(fsPath string) (access *accessRule, opts sites.Options) {
	first := true
	for _, d := range s.directories {
		if !sites.UnderDir(fsPath, d.prefix) {
			continue
		}
		if first {
			opts, first = d.opts, false
		}
		if len(d.require) > 0 {
			return d, opts
		}
	}
	return nil, opts
}

func newAccessRules(locs []*sites.Location, dirs []*sites.Directory) (l, d []*accessRule) {
	for _, lc := range locs {
		l = append(l, &accessRule{prefix: lc.URL, require: lc.Require, opts: lc.Options, auth: lc.Auth, realm: lc.Realm, passAuth: lc.PassAuthorization})
	}
	for _, dc := range dirs {
		d = append(d, &accessRule{prefix: dc.Path, require: dc.Require, opts: dc.Options, auth: dc.Auth, realm: dc.Realm})
	}
	longestFirst := func(rs []*accessRule) {
		sort.SliceStable(rs, func(i, j int) bool {
			return len(strings.TrimSuffix(rs[i].prefix, "/")) > len(strings.TrimSuffix(rs[j].prefix, "/"))
		})
	}
	longestFirst(l)
	longestFirst(d)
	return l, d
}
