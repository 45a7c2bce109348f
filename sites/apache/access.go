package apache

import (
	"bytes"
	"fmt"
	"math/bits"
	"net/netip"
	"os"
	slashpath "path"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/wasgi/wasgi/sites"
)

// fewer is said of an access rule left out of a require list: wasgi admits
// when any one rule does, so a rule less admits fewer clients, never more.
const fewer = "left out, which admits fewer clients, never more"

// access is what the directives of a <Directory>, <Files> or <Location>
// come to.
type access struct {
	require  []string // nil: the block has no access directive and decides nothing
	auth     string
	realm    string
	options  []string
	hasOpts  bool
	passAuth *bool
}

// rules makes the site's [[site.directory]] and [[site.location]] tables
// from its blocks and the main server's, then protects apps whose script a
// restricted <Directory> or <Files> holds, and passes the Authorization
// header to apps that asked for it.
func (t *translator) rules(st *site) {
	for _, s := range []*scope{st.inherit, st.scope} {
		if s == nil {
			continue
		}
		for _, b := range s.blocks {
			t.block(st, b)
		}
	}
	t.protectApps(st)
	t.passAuthorization(st)
}

// ruleAt returns the site's location (loc) or directory rule at a URL or
// path, made if there is none.
func ruleAt(st *site, at string, d *Directive, loc bool) *rule {
	list := &st.dirs
	if loc {
		list = &st.locs
	}
	for _, r := range *list {
		if r.at == at || loc && sites.TrimSlash(r.at) == sites.TrimSlash(at) {
			return r
		}
	}
	r := &rule{at: at, d: d}
	*list = append(*list, r)
	return r
}

// merge puts a block's access into a rule; a later block for the same path
// replaces what it sets, as Apache merges sections.
func (r *rule) merge(acc *access) {
	if acc.require != nil {
		r.require, r.auth, r.realm = acc.require, acc.auth, acc.realm
	}
	if acc.hasOpts {
		r.options = acc.options
	}
	if acc.passAuth != nil {
		r.passAuth = *acc.passAuth
	}
}

// problem says why a block cannot be translated, or "".
func (t *translator) problem(st *site, b *block) string {
	arg := b.arg()
	wild := strings.HasPrefix(arg, "~") || strings.ContainsAny(arg, "*?[")
	switch {
	case len(b.d.Args) != 1 || arg == "":
		return "takes one path"
	case b.kind == "location":
		if problem := sites.CheckURLPath(arg); problem != "" {
			return fmt.Sprintf("URL %q %s", arg, problem)
		}
	case b.kind == "directory":
		if wild {
			return "wildcards and regular expressions have no wasgi equivalent: write a [[site.directory]] for each folder"
		}
	case b.parent != nil && t.problem(st, b.parent) != "":
		return "the <Directory> around it cannot be translated"
	case t.holdsScript(st, b):
		// the app's script: protectApps uses its rules
	case b.parent == nil || wild || strings.Contains(arg, "/"):
		return "wasgi has no rules by file name: write a [[site.directory]] for each file"
	}
	return ""
}

// holdsScript reports whether a block holds the script of one of the
// site's apps.
func (t *translator) holdsScript(st *site, b *block) bool {
	if st.holders == nil {
		st.holders = map[*block]bool{}
		for _, a := range st.apps {
			for _, h := range t.scriptBlocks(st, a) {
				st.holders[h] = true
			}
		}
	}
	return st.holders[b]
}

func (t *translator) block(st *site, b *block) {
	if why := t.problem(st, b); why != "" {
		t.skip(b.d, why)
		return
	}
	acc := t.access(st, b)
	st.access[b] = acc
	arg := b.arg()
	switch {
	case b.kind == "location" && acc.require == nil && acc.passAuth == nil,
		b.kind != "location" && acc.require == nil && !acc.hasOpts:
		t.translated(b.d, "nothing to write for the section itself: what is in it is reported on its own lines")
	case b.kind == "location":
		ruleAt(st, arg, b.d, true).merge(acc)
		t.translated(b.d, "[[site.location]] %s of site %q", arg, st.name)
	case b.kind == "directory":
		p := slashpath.Clean(t.filePath(arg))
		ruleAt(st, p, b.d, false).merge(acc)
		t.translated(b.d, "[[site.directory]] %s of site %q", p, st.name)
	case !t.holdsScript(st, b):
		p := slashpath.Join(t.filePath(b.parent.arg()), arg)
		ruleAt(st, p, b.d, false).merge(acc)
		t.approximated(b.d, "[[site.directory]] %s of site %q: a path names the one file", p, st.name)
	}
}

// protectApps gives an app the access rules of the <Directory> or <Files>
// that holds its script: in Apache they decide who reaches the app; in
// wasgi a [[site.location]] at its mount does.
func (t *translator) protectApps(st *site) {
	for _, a := range st.apps {
		var eff *access
		var from *block
		for _, b := range t.scriptBlocks(st, a) {
			if acc := st.access[b]; acc != nil && acc.require != nil {
				eff, from = acc, b
			}
		}
		if from == nil {
			continue
		}
		if slices.Equal(eff.require, []string{"all granted"}) {
			t.approximated(from.d, "holds the script of app %q of site %q, which needs no rule: wasgi apps are reachable unless a [[site.location]] restricts them", a.name, st.name)
			continue
		}
		decided := false
		for _, b := range t.blocksOf(st, "location") {
			if acc := st.access[b]; acc != nil && acc.require != nil && sites.UnderPrefix(a.mount, b.arg()) {
				t.approximated(from.d, "the <Location> at %s:%d decides who reaches app %q, as in Apache", b.d.File, b.d.Line, a.name)
				decided = true
			}
		}
		if decided {
			continue
		}
		r := ruleAt(st, a.mount, from.d, true)
		if r.require == nil {
			r.require, r.auth, r.realm = eff.require, eff.auth, eff.realm
			r.comment = fmt.Sprintf("<%s %s> holds the script of app %q", from.d.Name, from.arg(), a.name)
		}
		t.approximated(from.d, "[[site.location]] %s of site %q: its rules decide who reaches app %q, whose script it holds", a.mount, st.name, a.name)
	}
}

// passAuthorization passes the Authorization header to the apps whose
// script a WSGIPassAuthorization On covers (at server level or in a
// <Directory> or <Files>), or whose WSGIScriptAlias has
// pass-authorization=On.
func (t *translator) passAuthorization(st *site) {
	for _, a := range st.apps {
		var last *Directive
		on := false
		for _, d := range t.covering(st, a, true) {
			if strings.EqualFold(d.Name, "WSGIPassAuthorization") {
				last, on = d, strings.EqualFold(first(d.Args), "on")
			}
		}
		if v, ok := a.opts["pass-authorization"]; ok {
			last, on = a.d, strings.EqualFold(v, "on")
		}
		if last == nil {
			continue
		}
		if on {
			r := ruleAt(st, a.mount, last, true)
			r.passAuth = true
		}
		label := ""
		if last == a.d {
			label = clip(a.d.Name + " " + a.mount + " pass-authorization=" + a.opts["pass-authorization"])
		}
		t.add(last, label, Translated, "pass_authorization = %v for app %q of site %q", on, a.name, st.name)
	}
}

// access evaluates the access directives of a block: Require (and
// <RequireAny>), Order/Allow/Deny/Satisfy, the Basic auth directives,
// Options and WSGIPassAuthorization.
func (t *translator) access(st *site, b *block) *access {
	acc := &access{}
	var (
		requires, allows, denies, limits   []*Directive
		order, satisfy, authType, authName *Directive
		providers, userScript, groupScript *Directive
		dropped                            bool     // a container of rules was left out
		extra                              []string // rules of <RequireAll> containers
	)
	var scan func([]*Directive)
	scan = func(list []*Directive) {
		for _, d := range list {
			switch strings.ToLower(d.Name) {
			case "requireany":
				if d.Section {
					t.translated(d, "any one rule admits, as in a wasgi require list")
					scan(d.Children)
					continue
				}
				t.ignoreKnown(d)
			case "requireall":
				if r, ok := requireAll(d); ok && d.Section {
					extra = append(extra, r)
					t.approximated(d, "require %s: the addresses it admits, as networks", quote(r))
					for _, c := range d.Children {
						t.translated(c, "part of the <RequireAll> at line %d", d.Line)
					}
					continue
				}
				t.skip(d, "wasgi admits when any one rule does, and has no negated rules: the rules in it are "+fewer)
				dropped = true
			case "requirenone":
				t.skip(d, "wasgi has no negated rules: the rules in it are "+fewer)
				dropped = true
			case "limit", "limitexcept":
				limits = append(limits, d)
			case "require":
				requires = append(requires, d)
			case "order":
				order = d
			case "allow":
				allows = append(allows, d)
			case "deny":
				denies = append(denies, d)
			case "satisfy":
				satisfy = d
			case "authtype":
				authType = d
			case "authname":
				authName = d
			case "authbasicprovider":
				providers = d
			case "wsgiauthuserscript":
				userScript = d
			case "wsgiauthgroupscript":
				groupScript = d
			case "authuserfile", "authgroupfile", "authdbmuserfile", "authdbmgroupfile", "authldapurl", "authdigestprovider":
				t.ignored(d, "wasgi has no password files or directories: an app of the site checks passwords (docs/authentication.md)")
			case "options":
				t.options(d, acc, b)
			case "allowoverride", "allowoverridelist":
				t.ignored(d, "no .htaccess files: access rules are in the TOML")
			case "authmerging":
				t.ignored(d, "a block's require list replaces those of the blocks around it")
			case "wsgiprocessgroup", "wsgiapplicationgroup", "wsgicallableobject", "setenv":
				// applied to the apps the block covers (appSettings)
			case "wsgipassauthorization":
				if b.kind == "location" {
					on := strings.EqualFold(first(d.Args), "on")
					acc.passAuth = &on
					t.translated(d, "pass_authorization = %v", on)
				}
			default:
				if d.Section {
					t.skip(d, "no wasgi equivalent")
				} else {
					t.ignoreKnown(d)
				}
			}
		}
	}
	scan(b.body)

	// A <Limit> applies its rules to some methods only. wasgi has one
	// list for all methods: the <Limit>'s, if the block has none of its
	// own beyond "all granted" (fewer clients for the other methods), else
	// "all denied".
	limitConflict := false
	for _, l := range limits {
		if !hasAccess(l.Children) {
			t.skip(l, "holds no access rule")
			continue
		}
		own := order != nil || len(allows)+len(denies) > 0
		own = own || len(extra) > 0
		for _, d := range requires {
			own = own || !isGranted(d.Args)
		}
		if own {
			limitConflict = true
			t.skip(l, "wasgi has one require list for all methods, and this block has rules of its own: it is denied to everyone")
			continue
		}
		for _, d := range requires {
			t.approximated(d, "replaced by the rules of <%s %s>", l.Name, strings.Join(l.Args, " "))
		}
		requires = nil
		t.approximated(l, "its rules apply to every method in wasgi, which admits fewer clients for the other methods")
		scan(l.Children)
	}

	// Who checks passwords.
	needsUser := false
	for _, d := range requires {
		needsUser = needsUser || userRule(d.Args)
	}
	var pv provided
	if needsUser || userScript != nil {
		pv = t.provider(st, b, authType, providers, userScript, groupScript)
	}
	t.reportAuth(pv, authType, authName, providers, userScript, groupScript)

	var rules []string
	for _, d := range requires {
		r, s, msg := requireRule(d.Args, pv)
		if r != "" {
			rules = append(rules, r)
		}
		t.add(d, "", s, "%s", msg)
	}

	rules = append(rules, extra...)
	has22 := order != nil || len(allows)+len(denies) > 0
	if has22 {
		host, note := hostRules(order, allows, denies)
		switch {
		case len(requires)+len(extra) == 0:
			rules = host
		case satisfy != nil && strings.EqualFold(first(satisfy.Args), "any"):
			rules = append(host, rules...)
			t.translated(satisfy, "the 2.2 rules and the Require rules go in one require list: any one admits")
		case slices.Equal(host, []string{"all granted"}):
			if satisfy != nil {
				t.translated(satisfy, "every address is allowed, so the Require rules decide")
			}
		default:
			if satisfy != nil {
				t.approximated(satisfy, "wasgi cannot require both an address and a user: denied to everyone")
			}
			note += "; with Satisfy All and Require rules: denied to everyone, as wasgi cannot require both"
			rules = []string{"all denied"}
		}
		msg := fmt.Sprintf("Apache 2.2 access control, as Require: %s", quoteList(host))
		if note != "" {
			msg += note
		}
		for _, list := range [][]*Directive{{order}, allows, denies} {
			for _, d := range list {
				if d != nil {
					t.approximated(d, "%s", msg)
				}
			}
		}
	} else if satisfy != nil {
		t.ignored(satisfy, "no Order, Allow or Deny in this block: nothing to satisfy")
	}
	if limitConflict {
		rules = []string{"all denied"}
	}
	if (len(requires)+len(extra) > 0 || has22 || dropped || limitConflict) && len(rules) == 0 {
		rules = []string{"all denied"}
		t.approximated(b.d, "none of its access rules could be kept: denied to everyone")
	}
	acc.require = rules
	if acc.require != nil && slices.ContainsFunc(rules, func(r string) bool { return userRule(strings.Fields(r)) }) {
		acc.auth = pv.app
		if authName != nil {
			acc.realm = realm(first(authName.Args))
		}
	}
	return acc
}

// hasAccess reports whether directives hold an access rule.
func hasAccess(list []*Directive) bool {
	return slices.ContainsFunc(list, func(d *Directive) bool {
		switch strings.ToLower(d.Name) {
		case "require", "order", "allow", "deny":
			return true
		}
		return d.Section && hasAccess(d.Children)
	})
}

func isGranted(args []string) bool {
	return len(args) == 2 && strings.EqualFold(args[0], "all") && strings.EqualFold(args[1], "granted")
}

// userRule reports whether Require arguments name a rule that needs a
// user.
func userRule(args []string) bool {
	if len(args) == 0 {
		return false
	}
	switch strings.ToLower(args[0]) {
	case "valid-user", "user", "group", "wsgi-group":
		return true
	}
	return false
}

// realm makes an AuthName a wasgi realm: no quotes, backslashes or control
// characters.
func realm(s string) string {
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f || r == '"' || r == '\\' {
			return -1
		}
		return r
	}, s)
}

// provided is what a block's auth directives come to: the app that checks
// passwords (and, if groups, user groups), or why there is none.
type provided struct {
	app       string
	why       string // no app: why not
	groups    bool
	groupsWhy string
	userMsg   string
	groupMsg  string
}

// provider finds the app of the site that checks passwords for a block:
// the app whose script is the WSGIAuthUserScript, else the app serving the
// block's URL, else the app at "/" or the first one; and gives it
// check_password (and groups_for_user) from the auth scripts.
func (t *translator) provider(st *site, b *block, authType, providers, user, group *Directive) provided {
	var pv provided
	switch {
	case authType != nil && !strings.EqualFold(first(authType.Args), "basic"):
		pv.why = "AuthType " + first(authType.Args) + ": wasgi does Basic authentication only"
	case providers != nil && !slices.ContainsFunc(providers.Args, func(s string) bool { return strings.EqualFold(s, "wsgi") }):
		pv.why = "AuthBasicProvider " + strings.Join(providers.Args, " ") + ": only the wsgi provider has a wasgi equivalent"
	case user == nil:
		pv.why = "no WSGIAuthUserScript: passwords checked by Apache itself (files, LDAP) have no wasgi equivalent"
	case len(user.Args) == 0:
		pv.why = "WSGIAuthUserScript names no script"
	}
	if pv.why != "" {
		return pv
	}
	script := t.filePath(user.Args[0])
	var target *app
	for _, a := range st.apps {
		if a.script == script {
			target = a
		}
	}
	if target == nil && b.kind == "location" {
		for _, a := range st.apps {
			if sites.UnderPrefix(b.arg(), a.mount) && (target == nil || len(a.mount) > len(target.mount)) {
				target = a
			}
		}
	}
	if target == nil && len(st.apps) > 0 {
		target = st.apps[0]
		for _, a := range st.apps {
			if a.mount == "/" {
				target = a
			}
		}
	}
	if target == nil {
		pv.why = "site " + strconv.Quote(st.name) + " has no WSGIScriptAlias: no app to check passwords"
		return pv
	}
	fn, msg, ok := t.authFunction(target, user, "check_password", &target.checkPassword)
	if !ok {
		pv.why = msg
		return pv
	}
	pv.app = target.name
	pv.userMsg = fmt.Sprintf("check_password = %q on app %q of site %q, which auth names%s", fn, target.name, st.name, msg)
	if group == nil {
		pv.groupsWhy = "no WSGIAuthGroupScript"
		return pv
	}
	fn, msg, ok = t.authFunction(target, group, "groups_for_user", &target.groupsForUser)
	if !ok {
		pv.groupsWhy = msg
		return pv
	}
	pv.groups = true
	pv.groupMsg = fmt.Sprintf("groups_for_user = %q on app %q of site %q%s", fn, target.name, st.name, msg)
	return pv
}

// authFunction sets an auth key (check_password or groups_for_user) of an
// app from a WSGIAuthUserScript or WSGIAuthGroupScript, the module being
// derived from the script's path like the app's own.
func (t *translator) authFunction(a *app, d *Directive, fn string, dst *string) (value, msg string, ok bool) {
	if len(d.Args) == 0 {
		return "", d.Name + " names no script", false
	}
	script := t.filePath(d.Args[0])
	module, _, _ := strings.Cut(a.wsgi, ":")
	var notes []string
	if script != a.script {
		var add string
		module, add, notes = pythonModule(script, a.pythonPath)
		if add != "" && !slices.Contains(a.pythonPath, add) {
			a.pythonPath = append(a.pythonPath, add)
		}
	}
	value = module + ":" + fn
	// The guide's wsgi.py imports check_password from Django's own
	// handler; a stock one does not: then that handler is what mod_wsgi
	// would need too, and what the app gets.
	var found, django bool
	if b, err := os.ReadFile(script); err == nil {
		found = definesName(b, fn)
		django = bytes.Contains(b, []byte("django"))
		if !found && django {
			value = "django.contrib.auth.handlers.modwsgi:" + fn
			notes = append(notes, fmt.Sprintf("the script %s defines no %s: Django's own handler, which the guide's wsgi.py imports, checks against the project's user database", script, fn))
		} else if !found {
			notes = append(notes, fmt.Sprintf("the script %s defines no %s: define it there, or wasgi check will report it", script, fn))
		}
	} else {
		notes = append(notes, fmt.Sprintf("the script %s could not be read here (%v): it must define or import %s", script, err, fn))
	}
	if *dst != "" && *dst != value {
		return "", fmt.Sprintf("app %q has %s = %q already: one function per app", a.name, fn, *dst), false
	}
	*dst = value
	imported, _, _ := strings.Cut(value, ":")
	msg = fmt.Sprintf(": mod_wsgi calls %s in the script %s; wasgi imports module %s from the app's python_path", fn, script, imported)
	if len(notes) > 0 {
		msg += "; " + strings.Join(notes, "; ")
	}
	for _, opt := range d.Args[1:] {
		msg += "; " + opt + " is not needed: the app's own instances answer"
	}
	return value, msg, true
}

// definesName reports whether Python source defines or imports name at
// its top level (def, class, assignment, from ... import).
func definesName(src []byte, name string) bool {
	q := regexp.QuoteMeta(name)
	return regexp.MustCompile(`(?m)^(def|class)\s+` + q + `\b|^` + q + `\s*=|^from\s+\S+\s+import\s+[^#\n]*\b` + q + `\b`).Match(src)
}

// reportAuth reports the authentication directives of a block.
func (t *translator) reportAuth(pv provided, authType, authName, providers, user, group *Directive) {
	if pv.app == "" {
		for _, d := range []*Directive{authType, authName, providers, user, group} {
			if d != nil {
				t.ignored(d, "%s", pv.why)
			}
		}
		return
	}
	if authType != nil {
		t.translated(authType, "auth = %q: that app checks Basic-auth passwords", pv.app)
	}
	if authName != nil {
		r := realm(first(authName.Args))
		if r != first(authName.Args) {
			t.approximated(authName, "realm = %q, without quotes, backslashes or control characters", r)
		} else {
			t.translated(authName, "realm = %q", r)
		}
	}
	if providers != nil {
		t.translated(providers, "auth = %q", pv.app)
	}
	t.approximated(user, "%s", pv.userMsg)
	if group != nil {
		if pv.groups {
			t.approximated(group, "%s", pv.groupMsg)
		} else {
			t.ignored(group, "%s", pv.groupsWhy)
		}
	}
}

// requireRule translates the arguments of a Require directive into a
// wasgi rule ("" when left out), with its status and the report message.
func requireRule(args []string, pv provided) (rule string, s Status, msg string) {
	if len(args) == 0 {
		return "", Ignored, "names no rule"
	}
	kind := strings.ToLower(args[0])
	s = Translated
	switch kind {
	case "all":
		rule = strings.ToLower(strings.Join(args, " "))
	case "ip":
		var nets []string
		for _, a := range args[1:] {
			p, ok := parseHost(a)
			if !ok {
				s, msg = Approximated, "; "+a+" is not an address or network: "+fewer
				continue
			}
			nets = append(nets, formatNet(p))
			if formatNet(p) != a && s == Translated {
				s = Approximated
			}
		}
		if len(nets) == 0 {
			return "", Ignored, "no address wasgi can read: " + fewer
		}
		rule = "ip " + strings.Join(nets, " ")
	case "local":
		rule, s, msg = "ip 127.0.0.0/8 ::1", Approximated, "; the loopback addresses (Apache also admits the server's own addresses)"
	case "valid-user", "user":
		if pv.app == "" {
			return "", Ignored, "needs a password check, and " + pv.why + ": " + fewer
		}
		rule = strings.Join(append([]string{kind}, names(args[1:], &msg)...), " ")
	case "group", "wsgi-group":
		switch {
		case pv.app == "":
			return "", Ignored, "needs a password check, and " + pv.why + ": " + fewer
		case !pv.groups:
			return "", Ignored, "needs the user's groups, and " + pv.groupsWhy + ": " + fewer
		}
		rule = strings.Join(append([]string{"group"}, names(args[1:], &msg)...), " ")
		if kind == "wsgi-group" {
			s = Approximated
			msg = "; the groups come from the app's groups_for_user"
		}
	case "not":
		return "", Ignored, "negated rules belong in <RequireAll> or <RequireNone>: " + fewer
	default:
		return "", Ignored, "wasgi has no " + args[0] + " rules: " + fewer
	}
	if _, err := sites.ParseRule(rule); err != nil {
		return "", Ignored, err.Error() + ": " + fewer
	}
	if msg != "" && s == Translated {
		s = Approximated
	}
	return rule, s, "require " + quote(rule) + msg
}

// names keeps the user or group names that wasgi can match: a name with a
// space in it cannot be written in a rule.
func names(list []string, msg *string) []string {
	var out []string
	for _, n := range list {
		if n == "" || strings.ContainsFunc(n, func(r rune) bool { return r <= ' ' || r == 0x7f }) {
			*msg += "; " + strconv.Quote(n) + " has a space or control character: " + fewer
			continue
		}
		out = append(out, n)
	}
	return out
}

// parseHost parses an address as Apache's Require ip and Allow from take
// it: an IP, a network as CIDR or address/netmask, or the first one to
// three bytes of an IPv4 address ("10.1" is 10.1.0.0/16).
func parseHost(s string) (netip.Prefix, bool) {
	if addr, mask, ok := strings.Cut(s, "/"); ok {
		a, err := netip.ParseAddr(addr)
		if err != nil || a.Zone() != "" {
			return netip.Prefix{}, false
		}
		a = a.Unmap()
		n, err := strconv.Atoi(mask)
		if err != nil {
			m, err := netip.ParseAddr(mask)
			if err != nil || !m.Is4() || !a.Is4() {
				return netip.Prefix{}, false
			}
			b := m.As4()
			v := uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
			n = bits.LeadingZeros32(^v)
			if v<<n != 0 {
				return netip.Prefix{}, false // not contiguous
			}
		}
		p, err := a.Prefix(n)
		return p, err == nil
	}
	if a, err := netip.ParseAddr(s); err == nil && a.Zone() == "" {
		a = a.Unmap()
		return netip.PrefixFrom(a, a.BitLen()), true
	}
	parts := strings.Split(strings.TrimSuffix(s, "."), ".")
	if len(parts) > 3 {
		return netip.Prefix{}, false
	}
	var b [4]byte
	for i, p := range parts {
		n, err := strconv.ParseUint(p, 10, 8)
		if err != nil || p == "" || p[0] == '+' {
			return netip.Prefix{}, false
		}
		b[i] = byte(n)
	}
	return netip.PrefixFrom(netip.AddrFrom4(b), 8*len(parts)), true
}

// formatNet writes a network, or a single address without its /32 or
// /128.
func formatNet(p netip.Prefix) string {
	if p.IsSingleIP() {
		return p.Addr().String()
	}
	return p.Masked().String()
}

// hosts is what Allow from or Deny from lists: everyone, networks, and
// host names or env= conditions wasgi cannot check.
type hosts struct {
	all   bool
	nets  []netip.Prefix
	other []string
}

func parseFrom(list []*Directive) hosts {
	var h hosts
	for _, d := range list {
		args := d.Args
		if len(args) > 0 && strings.EqualFold(args[0], "from") {
			args = args[1:]
		}
		for _, a := range args {
			if strings.EqualFold(a, "all") {
				h.all = true
			} else if p, ok := parseHost(a); ok {
				h.nets = append(h.nets, p)
			} else {
				h.other = append(h.other, a)
			}
		}
	}
	return h
}

// hostRules converts Apache 2.2's Order, Allow and Deny into a require
// list, with network arithmetic: "deny,allow" admits every address but the
// denied ones, plus the allowed ones; "allow,deny" the allowed addresses
// but the denied ones. Host names and env= in Deny cannot be checked, so
// they deny everyone; in Allow they are left out. note says what differs.
func hostRules(order *Directive, allowList, denyList []*Directive) (rules []string, note string) {
	allow, deny := parseFrom(allowList), parseFrom(denyList)
	ord := "deny,allow" // Apache's default
	if order != nil {
		ord = strings.ToLower(strings.Join(order.Args, ""))
	}
	if len(allow.other) > 0 {
		note = "; " + strings.Join(allow.other, ", ") + ": host names and env= are not checked: " + fewer
	}
	if len(deny.other) > 0 {
		return []string{"all denied"}, "; Deny from " + strings.Join(deny.other, ", ") + " cannot be checked: denied to everyone"
	}
	a, d := allow.nets, deny.nets
	if allow.all {
		a = everyone
	}
	if deny.all {
		d = everyone
	}
	var allowed []netip.Prefix
	if ord == "deny,allow" {
		allowed = append(subtract(everyone, d), a...)
	} else { // allow,deny and mutual-failure
		allowed = subtract(a, d)
	}
	rule, tooMany := netRule(allowed)
	if tooMany {
		note += fmt.Sprintf("; more than %d networks: denied to everyone", maxNets)
	}
	return []string{rule}, note
}

// requireAll translates a <RequireAll> of "Require all granted", "Require
// ip" and "Require not ip" lines, the usual way to block addresses, into
// one ip rule: the addresses every positive line admits, but the negated
// ones. ok is false for anything else.
func requireAll(d *Directive) (rule string, ok bool) {
	in := everyone
	var out []netip.Prefix
	positive := false
	for _, c := range d.Children {
		args := c.Args
		if !strings.EqualFold(c.Name, "Require") || c.Section || len(args) == 0 {
			return "", false
		}
		not := strings.EqualFold(args[0], "not")
		if not {
			args = args[1:]
		}
		switch {
		case !not && isGranted(args):
			positive = true
		case len(args) > 1 && strings.EqualFold(args[0], "ip"):
			var nets []netip.Prefix
			for _, a := range args[1:] {
				p, ok := parseHost(a)
				if !ok {
					return "", false
				}
				nets = append(nets, p)
			}
			if not {
				out = append(out, nets...)
			} else {
				in, positive = intersect(in, nets), true
			}
		default:
			return "", false
		}
	}
	if !positive {
		return "", false
	}
	rule, tooMany := netRule(subtract(in, out))
	return rule, !tooMany
}

// options translates an Options directive. Options relative to the
// sections around ("+Indexes") start from none, wasgi's default.
func (t *translator) options(d *Directive, acc *access, b *block) {
	if b.kind == "location" {
		t.ignored(d, "options come from [[site.directory]] rules only")
		return
	}
	set := map[string]bool{}
	for _, o := range acc.options {
		set[o] = true
	}
	relative := slices.ContainsFunc(d.Args, func(a string) bool { return strings.HasPrefix(a, "+") || strings.HasPrefix(a, "-") })
	if !relative {
		clear(set)
	}
	var notes []string
	if relative {
		notes = append(notes, "+ and - start from no options (wasgi's default), not from the sections around it")
	}
	for _, a := range d.Args {
		on := !strings.HasPrefix(a, "-")
		switch name := strings.ToLower(strings.TrimLeft(a, "+-")); name {
		case "followsymlinks":
			set["FollowSymLinks"] = on
		case "indexes":
			set["Indexes"] = on
		case "all":
			set["FollowSymLinks"], set["Indexes"] = on, on
		case "none":
			clear(set)
		case "symlinksifownermatch":
			notes = append(notes, a+": symlinks leaving the folder are not followed (no owner check)")
		default:
			notes = append(notes, a+" has no wasgi equivalent")
		}
	}
	acc.options = nil
	for _, o := range []string{"FollowSymLinks", "Indexes"} {
		if set[o] {
			acc.options = append(acc.options, o)
		}
	}
	acc.hasOpts = true
	msg := "options = " + quoteList(acc.options)
	if len(notes) > 0 {
		t.approximated(d, "%s; %s", msg, strings.Join(notes, "; "))
		return
	}
	t.translated(d, "%s", msg)
}
