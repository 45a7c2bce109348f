package sites

import (
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestACMEConfig(t *testing.T) {
	file := filepath.Join(abs(t, "good"), "acme.toml")
	const site = `
[[site]]
name = "a"
hosts = ["a.example", "www.a.example"]
tls = { acme = true, challenges = ["tls-alpn-01"] }
[[site.app]]
name = "a"
mount = "/"
module = "../site/app.wasm"
[[site]]
name = "b"
hosts = ["b.example", "*.b.example", "*"]
[[site.app]]
name = "a"
mount = "/"
module = "../site/app.wasm"
`
	cfg, err := Parse(file, []byte(`
[server]
listen = ["127.0.0.1:80"]
listen_tls = ["127.0.0.1:443"]
tls = { acme = true }
cache_dir = "c"
[server.acme]
email = "ops@example.com"
ca = "https://127.0.0.1:14000/dir"
ca_root = "../site/cert.pem"
storage = "state/acme"
`+site))
	if err != nil {
		t.Fatal(err)
	}
	want := &ACME{Email: "ops@example.com", CA: "https://127.0.0.1:14000/dir", CARoot: abs(t, "site", "cert.pem"),
		Storage: filepath.Join(abs(t, "good"), "state", "acme"), Challenges: []string{HTTP01, TLSALPN01}}
	if !reflect.DeepEqual(cfg.Server.ACME, want) {
		t.Errorf("ACME = %+v, want %+v", cfg.Server.ACME, want)
	}
	if got := cfg.Challenges(cfg.Sites[0].TLS); !reflect.DeepEqual(got, []string{TLSALPN01}) {
		t.Errorf("site a's challenges: %q", got)
	}
	if got := cfg.Challenges(cfg.Sites[1].TLS); !reflect.DeepEqual(got, []string{HTTP01, TLSALPN01}) {
		t.Errorf("site b's challenges: %q", got)
	}
	// Site b has no tls: the [server] default covers the names ACME can
	// prove, not its wildcard or "*".
	if got, want := cfg.ACMENames(), map[string][]string{"a": {"a.example", "www.a.example"}, "b": {"b.example"}}; !reflect.DeepEqual(got, want) {
		t.Errorf("ACMENames = %q, want %q", got, want)
	}

	bad := []struct {
		name, toml string
		want       []string
	}{
		{"cert and acme", `[server]
listen_tls = ["127.0.0.1:443"]
tls = { acme = true, cert = "../site/cert.pem", key = "../site/key.pem" }
` + site, []string{"acme.toml:3:1: server.tls: either cert and key, or acme = true, not both"}},
		{"admin", `[server]
listen_tls = ["127.0.0.1:443"]
admin = "127.0.0.1:9090"
admin_tls = { acme = true }
` + site, []string{"acme.toml:4:15: server.admin_tls.acme: not here: this listener needs a cert and key"}},
		{"wildcard", `[server]
listen_tls = ["127.0.0.1:443"]
` + strings.Replace(site, `hosts = ["a.example", "www.a.example"]`, `hosts = ["*.a.example"]`, 1),
			[]string{`site.tls.acme: ACME cannot prove host "*.a.example" by HTTP or TLS (a wildcard needs a DNS challenge): give site "a" a cert and key`}},
		{"challenges", `[server]
listen_tls = ["127.0.0.1:443"]
[server.acme]
challenges = ["dns-01", "http-01", "http-01"]
ca = "http://ca.example/dir"
email = "nobody"
` + site, []string{
			`acme.toml:4:15: server.acme.challenges: "dns-01" is not one of "http-01", "tls-alpn-01" (wasgi does no DNS challenge)`,
			`acme.toml:4:36: server.acme.challenges: "http-01" is listed twice`,
			`acme.toml:5:1: server.acme.ca: "http://ca.example/dir" is not an https:// URL of an ACME directory`,
			`acme.toml:6:1: server.acme.email: "nobody" is not an email address`,
		}},
		{"http-01 without listen", `[server]
listen_tls = ["127.0.0.1:443"]
` + strings.Replace(site, `"tls-alpn-01"`, `"http-01"`, 1),
			[]string{`site.tls: challenges are ["http-01"] only, which needs a plain HTTP listener`}},
		{"challenges without acme", `[server]
listen_tls = ["127.0.0.1:443"]
tls = { cert = "../site/cert.pem", key = "../site/key.pem", challenges = ["http-01"] }
` + site, []string{"acme.toml:3:61: server.tls.challenges: needs acme = true"}},
	}
	for _, tt := range bad {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse(file, []byte(tt.toml))
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error lacks %q:\n%v", w, err)
				}
			}
		})
	}
}
