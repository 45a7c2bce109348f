package apache

import (
	"math/rand/v2"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/wasgi/wasgi/sites"
)

func TestParseHost(t *testing.T) {
	cases := map[string]string{
		"10.1.2.3":                "10.1.2.3/32",
		"10":                      "10.0.0.0/8",
		"172.20":                  "172.20.0.0/16",
		"192.168.1.":              "192.168.1.0/24",
		"10.1.0.0/16":             "10.1.0.0/16",
		"10.1.2.3/16":             "10.1.0.0/16",
		"10.0.0.0/255.0.0.0":      "10.0.0.0/8",
		"192.168.0.0/255.255.0.0": "192.168.0.0/16",
		"2001:db8::/32":           "2001:db8::/32",
		"::1":                     "::1/128",
		"::ffff:10.1.2.3":         "10.1.2.3/32",
	}
	for in, want := range cases {
		p, ok := parseHost(in)
		if !ok || p.String() != want {
			t.Errorf("parseHost(%q) = %v, %v; want %s", in, p, ok, want)
		}
	}
	for _, bad := range []string{"", "example.com", "10.1.2.3.4", "256", "10.0.0.0/255.0.255.0", "10.0.0.0/33", "fe80::1%eth0", "+1", "1..2", "10.0.0.0/ffff::"} {
		if p, ok := parseHost(bad); ok {
			t.Errorf("parseHost(%q) = %v, want an error", bad, p)
		}
	}
}

// admits says whether a wasgi require list admits addr without a user.
func admits(t *testing.T, rules []string, addr netip.Addr) bool {
	t.Helper()
	for _, s := range rules {
		r, err := sites.ParseRule(s)
		if err != nil {
			t.Fatalf("rule %q: %v", s, err)
		}
		switch r.Kind {
		case sites.RuleAllGranted:
			return true
		case sites.RuleIP:
			if slices.ContainsFunc(r.Nets, func(p netip.Prefix) bool { return p.Contains(addr) }) {
				return true
			}
		}
	}
	return false
}

// TestHostRulesExact checks the translation of Apache 2.2's Order, Allow
// and Deny against Apache's own semantics, for random lists of networks
// and a set of client addresses: wasgi admits exactly the clients Apache
// admits, or no one when that takes more than maxNets networks.
func TestHostRulesExact(t *testing.T) {
	pool := []string{"all", "10.0.0.0/8", "10.1", "10.1.2.3", "192.168.0.0/16", "192.168.1.0/24", "::1", "2001:db8::/32", "0.0.0.0/1"}
	var clients []netip.Addr
	for _, s := range []string{"10.1.2.3", "10.1.2.4", "10.2.0.1", "192.168.1.5", "192.168.2.5", "8.8.8.8", "200.1.1.1", "::1", "2001:db8::1", "2001:db9::1"} {
		clients = append(clients, netip.MustParseAddr(s))
	}
	rng := rand.New(rand.NewPCG(1, 2))
	pick := func() []string {
		var out []string
		for range rng.IntN(3) {
			out = append(out, pool[rng.IntN(len(pool))])
		}
		return out
	}
	matches := func(list []string, a netip.Addr) bool {
		for _, s := range list {
			if s == "all" {
				return true
			}
			if p, _ := parseHost(s); p.Contains(a) {
				return true
			}
		}
		return false
	}
	for range 2000 {
		allow, deny := pick(), pick()
		order := []string{"deny,allow", "allow,deny", "Allow,Deny", "mutual-failure"}[rng.IntN(4)]
		d := func(name string, list []string) []*Directive {
			if len(list) == 0 {
				return nil
			}
			return []*Directive{{Name: name, Args: append([]string{"from"}, list...)}}
		}
		rules, note := hostRules(&Directive{Name: "Order", Args: []string{order}}, d("Allow", allow), d("Deny", deny))
		if strings.Contains(note, "networks: denied to everyone") {
			if !slices.Equal(rules, []string{"all denied"}) {
				t.Fatalf("too many networks, but %q", rules)
			}
			continue
		}
		for _, c := range clients {
			var apache bool
			if strings.EqualFold(order, "deny,allow") {
				apache = !matches(deny, c) || matches(allow, c)
			} else {
				apache = matches(allow, c) && !matches(deny, c)
			}
			if got := admits(t, rules, c); got != apache {
				t.Fatalf("Order %s, Allow from %q, Deny from %q: %s admitted %v by %q, Apache: %v", order, allow, deny, c, got, rules, apache)
			}
		}
	}
}

func TestHostRulesNeverLooser(t *testing.T) {
	cases := []struct {
		order        string
		allow, deny  []string
		want         []string
		noteContains string
	}{
		{"deny,allow", []string{"all"}, nil, []string{"all granted"}, ""},
		{"allow,deny", nil, nil, []string{"all denied"}, ""},
		{"deny,allow", nil, nil, []string{"all granted"}, ""},
		{"deny,allow", []string{"10.0.0.0/8", "example.org"}, []string{"all"}, []string{"ip 10.0.0.0/8"}, "example.org: host names"},
		{"deny,allow", []string{"all"}, []string{"evil.example"}, []string{"all denied"}, "cannot be checked"},
		{"allow,deny", []string{"env=trusted"}, nil, []string{"all denied"}, "env="},
		{"allow,deny", []string{"192.168.1"}, []string{"192.168.1.66"}, []string{"ip 192.168.1.0/26 192.168.1.64/31 192.168.1.67 192.168.1.68/30 192.168.1.72/29 192.168.1.80/28 192.168.1.96/27 192.168.1.128/25"}, ""},
	}
	for _, tc := range cases {
		d := func(name string, list []string) []*Directive {
			return []*Directive{{Name: name, Args: append([]string{"from"}, list...)}}
		}
		got, note := hostRules(&Directive{Name: "Order", Args: []string{tc.order}}, d("Allow", tc.allow), d("Deny", tc.deny))
		if !slices.Equal(got, tc.want) || !strings.Contains(note, tc.noteContains) {
			t.Errorf("Order %s, Allow %q, Deny %q: %q (%s); want %q (%s)", tc.order, tc.allow, tc.deny, got, note, tc.want, tc.noteContains)
		}
	}
}

func TestRequireAll(t *testing.T) {
	cases := []struct {
		body string
		want string // "" = not translatable
	}{
		{"Require all granted\nRequire not ip 10.0.0.0/1\n", "ip 128.0.0.0/1 ::/0"},
		{"Require ip 10.0.0.0/8\nRequire not ip 10.128.0.0/9\n", "ip 10.0.0.0/9"},
		{"Require ip 10.0.0.0/8\nRequire ip 10.1.0.0/16 192.168.0.0/16\n", "ip 10.1.0.0/16"},
		{"Require ip 10.0.0.0/8\nRequire ip 11.0.0.0/8\n", "all denied"},
		{"Require all granted\n", "all granted"},
		{"Require not ip 10.0.0.0/8\n", ""},
		{"Require valid-user\nRequire ip 10.0.0.0/8\n", ""},
		{"Require all granted\nRequire not host example.com\n", ""},
	}
	for _, tc := range cases {
		conf, err := ParseFS(fstest.MapFS{"a.conf": {Data: []byte("<RequireAll>\n" + tc.body + "</RequireAll>\n")}}, "a.conf")
		if err != nil {
			t.Fatal(err)
		}
		got, ok := requireAll(conf[0])
		if !ok {
			got = ""
		}
		if got != tc.want {
			t.Errorf("<RequireAll>\n%s: %q, want %q", tc.body, got, tc.want)
		}
	}
}

// translate parses and translates a configuration given as text.
func translate(t *testing.T, text string) (string, string) {
	t.Helper()
	conf, err := ParseFS(fstest.MapFS{"httpd.conf": {Data: []byte(text)}}, "httpd.conf")
	if err != nil {
		t.Fatal(err)
	}
	res := Translate(conf)
	var report strings.Builder
	if err := res.WriteReport(&report); err != nil {
		t.Fatal(err)
	}
	return string(res.TOML), report.String()
}

// TestAccessFailsClosed checks access rules that wasgi cannot express: the
// translation admits fewer clients, never more, and the report says so.
func TestAccessFailsClosed(t *testing.T) {
	app := "WSGIScriptAlias / /srv/app/wsgi.py\n"
	cases := []struct {
		name, conf string
		toml       string // in the TOML
		report     string // in the report
	}{
		{"passwords from a file", app + "<Location /a>\nAuthType Basic\nAuthUserFile /etc/passwd\nRequire valid-user\n</Location>\n",
			`require = ["all denied"]`, "none of its access rules could be kept: denied to everyone"},
		{"digest", app + "<Location /a>\nAuthType Digest\nAuthBasicProvider wsgi\nWSGIAuthUserScript /srv/app/wsgi.py\nRequire valid-user\nRequire ip 10.0.0.0/8\n</Location>\n",
			`require = ["ip 10.0.0.0/8"]`, "AuthType Digest: wasgi does Basic authentication only"},
		{"no app to check passwords", "<Location /a>\nAuthType Basic\nAuthBasicProvider wsgi\nWSGIAuthUserScript /srv/auth.wsgi\nRequire valid-user\n</Location>\n",
			`require = ["all denied"]`, `has no WSGIScriptAlias: no app to check passwords`},
		{"groups without a group script", app + "<Location /a>\nAuthType Basic\nAuthBasicProvider wsgi\nWSGIAuthUserScript /srv/app/wsgi.py\nRequire group staff\n</Location>\n",
			`require = ["all denied"]`, "needs the user's groups, and no WSGIAuthGroupScript"},
		{"RequireNone", app + "<Location /a>\n<RequireNone>\nRequire ip 10.0.0.0/8\n</RequireNone>\n</Location>\n",
			`require = ["all denied"]`, "wasgi has no negated rules"},
		{"Limit with rules of the block", app + "<Location /a>\nRequire ip 10.0.0.0/8\n<Limit POST>\nRequire ip 10.1.0.0/16\n</Limit>\n</Location>\n",
			`require = ["all denied"]`, "denied to everyone"},
		{"Satisfy All with an address and a user", app + "<Directory /srv/files>\nOrder deny,allow\nDeny from all\nAllow from 10.0.0.0/8\nAuthType Basic\nAuthBasicProvider wsgi\nWSGIAuthUserScript /srv/app/wsgi.py\nRequire valid-user\n</Directory>\n",
			`require = ["all denied"]`, "wasgi cannot require both"},
		{"a name with a space", app + "<Location /a>\nAuthType Basic\nAuthBasicProvider wsgi\nWSGIAuthUserScript /srv/app/wsgi.py\nRequire user \"a b\" c\n</Location>\n",
			`require = ["user c"]`, `"a b" has a space or control character`},
		{"restricted script folder", app + "<Directory /srv/app>\nRequire ip 10.0.0.0/8\n</Directory>\n",
			"[[site.location]]                     # <Directory /srv/app> holds the script of app \"main\"", "its rules decide who reaches app \"main\""},
		{"LocationMatch", app + "<LocationMatch ^/admin>\nRequire ip 10.0.0.0/8\n</LocationMatch>\n",
			"", "ACCESS: the access rules in it are lost"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			toml, report := translate(t, tc.conf)
			if !strings.Contains(toml, tc.toml) || !strings.Contains(report, tc.report) {
				t.Errorf("TOML:\n%s\nreport:\n%s\nwant %q in the TOML and %q in the report", toml, report, tc.toml, tc.report)
			}
		})
	}
}

func TestListenAndHosts(t *testing.T) {
	for in, want := range map[string]string{"80": ":80", "0.0.0.0:80": "0.0.0.0:80", "[::]:443": "[::]:443", "localhost:8080": "localhost:8080"} {
		if got, ok := listenAddr(in); !ok || got != want {
			t.Errorf("listenAddr(%q) = %q, %v", in, got, ok)
		}
	}
	for _, bad := range []string{"", "http", "1.2.3.4", "1.2.3.4:99999", "[fe80::1%eth0]:80", "bad_host!:80"} {
		if got, ok := listenAddr(bad); ok {
			t.Errorf("listenAddr(%q) = %q, want an error", bad, got)
		}
	}
	for in, want := range map[string]string{"Example.COM": "example.com", "www.example.com:443": "www.example.com", "https://a.example/": "", "*.example.com": "*.example.com", "example.com.": "example.com", "[::1]:80": "[::1]", "*": "*"} {
		got, ok := hostName(in)
		if want == "" && ok || want != "" && (got != want || !ok) {
			t.Errorf("hostName(%q) = %q, %v; want %q", in, got, ok, want)
		}
	}
}
