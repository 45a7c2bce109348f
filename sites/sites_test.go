package sites

import (
	"errors"
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

// abs returns the absolute path of a file under testdata.
func abs(t *testing.T, elem ...string) string {
	t.Helper()
	p, err := filepath.Abs(filepath.Join(append([]string{"testdata"}, elem...)...))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestLoadFull(t *testing.T) {
	cfg, err := Load(filepath.Join("testdata", "good", "full.toml"))
	if err != nil {
		t.Fatal(err)
	}
	site := abs(t, "site")

	if want := abs(t, "good", "full.toml"); cfg.File != want {
		t.Errorf("File = %q, want %q", cfg.File, want)
	}
	wantServer := Server{
		ListenTLS:         []string{"127.0.0.1:8080", "[::1]:8443"}, // tls without listen_tls: every listen address is HTTPS
		TLS:               &TLS{Cert: filepath.Join(site, "cert.pem"), Key: filepath.Join(site, "key.pem")},
		Admin:             "127.0.0.1:9090",
		CacheDir:          abs(t, "good", "cache"),
		ReadHeaderTimeout: 5 * time.Second,
		MaxBody:           1 << 20,
		ShutdownTimeout:   time.Minute,
		MaxConnections:    10000,
		AuthMaxFailures:   DefaultAuthMaxFailures,
		AuthFailureWindow: DefaultAuthFailureWindow,
		LogFormat:         "console",
		Compile:           "eager",
		AccessLog:         "json",
		ACME:              &ACME{CA: LetsEncrypt, Storage: filepath.Join(abs(t, "good", "cache"), "acme"), Challenges: []string{HTTP01, TLSALPN01}},
	}
	if got := cfg.Server.TLS; got != nil && (got.CertAt.Key != "server.tls.cert" || got.CertAt.Line == 0 || got.KeyAt.Key != "server.tls.key") {
		t.Errorf("TLS positions: %+v", got)
	} else if got != nil {
		got.CertAt, got.KeyAt = Pos{}, Pos{}
	}
	if !reflect.DeepEqual(cfg.Server, wantServer) {
		t.Errorf("Server =\n%+v\nwant\n%+v", cfg.Server, wantServer)
	}

	wantShop := &Group{
		Name: "shop", Instances: 8, MinInstances: 2, MaxRequests: 10000,
		RequestTimeout: 30 * time.Second, QueueTimeout: 5 * time.Second, IdleTimeout: 10 * time.Minute,
		MemoryLimit: 100_000_000 / 65536 * 65536,
		StackLimit:  8 << 20,
		HardTimeout: true,
	}
	if got := cfg.Groups["shop"]; !reflect.DeepEqual(got, wantShop) {
		t.Errorf("group shop = %+v, want %+v", got, wantShop)
	}
	for _, name := range []string{"shop/users", "shop/legacy", "default/hello"} {
		if g := cfg.Groups[name]; g == nil || !g.Private || g.Name != name {
			t.Errorf("private group %q = %+v", name, g)
		}
	}
	if len(cfg.Groups) != 4 {
		t.Errorf("%d groups, want 4", len(cfg.Groups))
	}

	if len(cfg.Sites) != 2 || cfg.Sites[0].Name != "shop" || cfg.Sites[1].Name != "default" {
		t.Fatalf("sites = %v", cfg.Sites)
	}
	shop := cfg.Sites[0]
	if want := []string{"shop.example.com", "*.shop.example.com"}; !reflect.DeepEqual(shop.Hosts, want) {
		t.Errorf("hosts = %q, want %q", shop.Hosts, want)
	}
	if shop.Root != site {
		t.Errorf("root = %q, want %q", shop.Root, site)
	}

	wantMain := &App{
		Name: "main", Mount: "/", Module: filepath.Join(site, "app.wasm"), Group: "shop", ABI: "wasgi",
		Env: map[string]string{"SHOP_MODE": "test", "GREETING": "hello"},
		Dirs: []Dir{
			{Guest: "/data", Host: filepath.Join(site, "data"), ReadOnly: false},
			{Guest: "/static", Host: filepath.Join(site, "static"), ReadOnly: true},
		},
		Outbound: Outbound{
			Entries: []OutboundEntry{
				{Host: "db.internal", Port: 5432},
				{Host: "10.0.0.7", Port: 6379},
				{TLS: true, Host: "api.example.com", Port: 443, CA: filepath.Join(site, "ca.pem")},
			},
			Limit: 4, AppLimit: 32, ConnectTimeout: 2 * time.Second,
		},
	}
	if !reflect.DeepEqual(shop.Apps[0], wantMain) {
		t.Errorf("app main =\n%+v\nwant\n%+v", shop.Apps[0], wantMain)
	}
	if a := shop.Apps[1]; a.Mount != "/users" || a.Group != "shop/users" || a.ABI != "wasgi" {
		t.Errorf("app users = %+v", a)
	}
	if a := shop.Apps[2]; a.Mount != "/cgi-bin" || a.ABI != "cgi" {
		t.Errorf("app legacy = %+v", a)
	}

	wantAliases := []*Alias{
		{URL: "/static/", Path: filepath.Join(site, "static")},
		{URL: "/robots.txt", Path: filepath.Join(site, "static", "robots.txt"), File: true},
	}
	if !reflect.DeepEqual(shop.Aliases, wantAliases) {
		t.Errorf("aliases = %+v", shop.Aliases)
	}

	wantDirs := []*Directory{{
		Path:    filepath.Join(site, "static"),
		Require: []Rule{{Kind: RuleAllGranted}},
		Options: Options{FollowSymLinks: true, Indexes: true},
	}}
	if !reflect.DeepEqual(shop.Directories, wantDirs) {
		t.Errorf("directories = %+v", shop.Directories[0])
	}

	wantLocs := []*Location{
		{
			URL: "/admin/", Auth: "users", Realm: "Shop admin", PassAuthorization: true,
			Require: []Rule{
				{Kind: RuleGroup, Names: []string{"staff", "admins"}},
				{Kind: RuleIP, Nets: []netip.Prefix{
					netip.MustParsePrefix("10.0.0.0/8"),
					netip.MustParsePrefix("192.168.1.1/32"),
					netip.MustParsePrefix("10.1.0.0/16"),
				}},
			},
		},
		{URL: "/account/", Auth: "users", Realm: "shop", Require: []Rule{{Kind: RuleValidUser}}},
	}
	if !reflect.DeepEqual(shop.Locations, wantLocs) {
		t.Errorf("locations =\n%+v\n%+v", shop.Locations[0], shop.Locations[1])
	}

	def := cfg.Sites[1]
	if def.Root != abs(t, "good") || def.Apps[0].Module != filepath.Join(site, "app.wasm") {
		t.Errorf("default site: root %q, module %q", def.Root, def.Apps[0].Module)
	}
}

// TestParseGood checks defaults, path resolution, private groups and mount
// normalisation on small configs.
func TestParseGood(t *testing.T) {
	file := filepath.Join("testdata", "good", "inline.toml")
	good, site := abs(t, "good"), abs(t, "site")
	const app = `
[[site]]
name = "s"
hosts = ["S.example"]
[[site.app]]
name = "a"
mount = "/"
module = "../site/app.wasm"
`
	tests := []struct {
		name  string
		toml  string
		check func(t *testing.T, c *Config)
	}{
		{
			name: "server defaults",
			toml: app,
			check: func(t *testing.T, c *Config) {
				want := Server{
					Listen:            []string{"127.0.0.1:8080"},
					CacheDir:          filepath.Join(good, ".wasgi-cache"),
					ReadHeaderTimeout: 10 * time.Second,
					MaxBody:           10 << 20,
					ShutdownTimeout:   30 * time.Second,
					MaxConnections:    10000,
					LogFormat:         "json",
					Compile:           "eager",
					AccessLog:         "combined",
					ACME:              &ACME{CA: LetsEncrypt, Storage: filepath.Join(good, ".wasgi-cache", "acme"), Challenges: []string{HTTP01, TLSALPN01}},
				}
				if !reflect.DeepEqual(c.Server, want) {
					t.Errorf("Server = %+v, want %+v", c.Server, want)
				}
			},
		},
		{
			name: "private group defaults",
			toml: app,
			check: func(t *testing.T, c *Config) {
				want := &Group{
					Name: "s/a", Private: true, Instances: 4,
					RequestTimeout: 60 * time.Second, QueueTimeout: 10 * time.Second, IdleTimeout: 5 * time.Minute,
					HardTimeout: true,
					MemoryLimit: 256 << 20,
					StackLimit:  8 << 20,
				}
				if a := c.Sites[0].Apps[0]; a.Group != "s/a" || !reflect.DeepEqual(c.Groups["s/a"], want) {
					t.Errorf("group %q = %+v, want %+v", a.Group, c.Groups["s/a"], want)
				}
			},
		},
		{
			name: "named group defaults",
			toml: "[groups.g]\n" + app + "group = \"g\"\n",
			check: func(t *testing.T, c *Config) {
				want := newGroup("g", false)
				if !reflect.DeepEqual(c.Groups["g"], want) || len(c.Groups) != 1 {
					t.Errorf("groups = %v", c.Groups)
				}
			},
		},
		{
			name: "sizes and rounding",
			toml: "[server]\nmax_body = 1234\n[groups.g]\nmemory_limit = \"100K\"\n[groups.h]\nmemory_limit = 65536\n" + app,
			check: func(t *testing.T, c *Config) {
				if c.Server.MaxBody != 1234 || c.Groups["g"].MemoryLimit != 65536 || c.Groups["h"].MemoryLimit != 65536 {
					t.Errorf("max_body %d, memory %d, %d", c.Server.MaxBody, c.Groups["g"].MemoryLimit, c.Groups["h"].MemoryLimit)
				}
			},
		},
		{
			name: "hosts lower-cased, site and app defaults",
			toml: app,
			check: func(t *testing.T, c *Config) {
				s := c.Sites[0]
				if !reflect.DeepEqual(s.Hosts, []string{"s.example"}) || s.Root != good {
					t.Errorf("hosts %q root %q", s.Hosts, s.Root)
				}
				a := s.Apps[0]
				if a.ABI != "wasgi" || a.Env == nil || len(a.Env) != 0 || a.Dirs != nil || a.Module != filepath.Join(site, "app.wasm") {
					t.Errorf("app = %+v", a)
				}
			},
		},
		{
			name: "mounts normalised",
			toml: `
[[site]]
name = "s"
hosts = ["*"]
root = "../site"
[[site.app]]
name = "a"
mount = "/mysite/"
module = "app.wasm"
[[site.app]]
name = "b"
mount = "/x/y"
module = "/` + strings.TrimPrefix(filepath.ToSlash(filepath.Join(site, "app.wasm")), "/") + `"
[[site.app]]
name = "c"
mount = "/"
module = "./static/../app.wasm"
`,
			check: func(t *testing.T, c *Config) {
				var mounts []string
				for _, a := range c.Sites[0].Apps {
					mounts = append(mounts, a.Mount)
					if a.Module != filepath.Join(site, "app.wasm") {
						t.Errorf("module %q", a.Module)
					}
				}
				if want := []string{"/mysite", "/x/y", "/"}; !reflect.DeepEqual(mounts, want) {
					t.Errorf("mounts = %q, want %q", mounts, want)
				}
			},
		},
		{
			name: "inline array of tables and dotted keys",
			toml: `
server.listen = [":0"]
site = [ { name = "s", hosts = ["a.example"], app = [ { name = "a", mount = "/a/", module = "../site/app.wasm" } ] } ]
`,
			check: func(t *testing.T, c *Config) {
				if c.Server.Listen[0] != ":0" || c.Sites[0].Apps[0].Mount != "/a" {
					t.Errorf("config = %+v %+v", c.Server, c.Sites[0].Apps[0])
				}
			},
		},
		{
			name: "directory path and location defaults",
			toml: app + `
[[site.directory]]
path = "../site/static/"
[[site.location]]
url = "/private/"
require = ["all denied"]
`,
			check: func(t *testing.T, c *Config) {
				d, l := c.Sites[0].Directories[0], c.Sites[0].Locations[0]
				if d.Path != filepath.Join(site, "static") || d.Require != nil || d.Options != (Options{}) {
					t.Errorf("directory = %+v", d)
				}
				if l.Realm != "" || l.PassAuthorization || l.Require[0].Kind != RuleAllDenied {
					t.Errorf("location = %+v", l)
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Parse(file, []byte(tt.toml))
			if err != nil {
				t.Fatal(err)
			}
			tt.check(t, c)
		})
	}
}

func TestBad(t *testing.T) {
	tests := []struct {
		file string
		want []string
	}{
		{"syntax.toml", []string{"syntax.toml:4:"}},
		{"unknown_server_key.toml", []string{"unknown_server_key.toml:3:1: server.listn: unknown key", `did you mean "listen"`}},
		{"unknown_group_key.toml", []string{"unknown_group_key.toml:4:1: groups.web.instance: unknown key"}},
		{"unknown_site_key.toml", []string{"unknown_site_key.toml:11:1: site.host: unknown key"}},
		{"unknown_app_key.toml", []string{"unknown_app_key.toml:18:3: site.app.modul: unknown key", `did you mean "module"`}},
		{"unknown_alias_key.toml", []string{"unknown_alias_key.toml:11:3: site.alias.pth: unknown key"}},
		{"unknown_directory_key.toml", []string{"unknown_directory_key.toml:11:3: site.directory.option: unknown key"}},
		{"unknown_location_key.toml", []string{"unknown_location_key.toml:12:3: site.location.pass_authorisation: unknown key"}},
		{"unknown_dirs_key.toml", []string{"unknown_dirs_key.toml:9:69: site.app.dirs.mod: unknown key"}},
		{"unknown_table.toml", []string{"unknown_table.toml:1:1: servers: unknown key", `did you mean "server"`}},
		{"upper_case_key.toml", []string{"upper_case_key.toml:2:1: server.Listen: unknown key", "lower case"}},
		{"bad_duration.toml", []string{"bad_duration.toml:3:1: groups.g.request_timeout: invalid duration \"30 seconds\""}},
		{"bad_size.toml", []string{"bad_size.toml:2:1: server.max_body: invalid size \"10 MiBs\""}},
		{"bad_memory.toml", []string{"bad_memory.toml:2:1: groups.g.memory_limit:", "less than one 64KiB wasm page"}},
		{"duplicate_host.toml", []string{"duplicate_host.toml:16:27: site.hosts:", `"www.example.com" is claimed by both site "one" and site "three"`}},
		{"two_defaults.toml", []string{"two_defaults.toml:9:3: site.hosts:", `only one site may be the default`}},
		{"duplicate_site.toml", []string{"duplicate_site.toml:5:1: site.name:", "already declared at line 2"}},
		{"duplicate_mount.toml", []string{"duplicate_mount.toml:14:3: site.app.mount:", `mount "/app" is already used by app "one"`}},
		{"alias_mount_conflict.toml", []string{"alias_mount_conflict.toml:11:3: site.alias.url:", `conflicts with app "main"`}},
		{"duplicate_alias.toml", []string{"duplicate_alias.toml:14:3: site.alias.url:", "already aliased"}},
		{"unknown_group.toml", []string{"unknown_group.toml:9:3: site.app.group:", `unknown group "web"`}},
		{"missing_module.toml", []string{"missing_module.toml:14:3: site.app.module:", "missing.wasm", "does not exist"}},
		{"module_required.toml", []string{"module_required.toml:10:3: site.app.module: required key is missing"}},
		{"bad_require.toml", []string{"bad_require.toml:12:29: site.directory.require:", `unknown rule "allow"`}},
		{"cross_site_auth.toml", []string{"cross_site_auth.toml:23:3: site.location.auth:", `auth provider "users" is not an app of site "two"`}},
		{"valid_user_without_auth.toml", []string{"valid_user_without_auth.toml:14:5: site.location.require:", `"valid-user" needs a user`}},
		{"bad_listen.toml", []string{"bad_listen.toml:2:29: server.listen:", `invalid address "localhost"`}},
		{"min_instances.toml", []string{"min_instances.toml:3:1: groups.g.min_instances:", "5 is more than instances (2)"}},
		{"bad_mount.toml", []string{"bad_mount.toml:8:3: site.app.mount:", `must not contain "." or ".." segments`}},
		{"reserved_env.toml", []string{"reserved_env.toml:9:11: site.app.env.PATH_INFO:", "set by the host"}},
		{"bad_dirs.toml", []string{"bad_dirs.toml:9:12: site.app.dirs.guest:", "must be absolute", "bad_dirs.toml:9:51: site.app.dirs.mode:", `"rwx" is not one of`}},
		{"bad_quota.toml", []string{`bad_quota.toml:9:65: site.app.dirs.quota: invalid size "10 MiBs"`, "bad_quota.toml:9:84: site.app.dirs.quota_files: -1 is negative",
			`bad_quota.toml:10:50: site.app.dirs.quota: a quota needs mode = "rw"`}},
		{"bad_host.toml", []string{"bad_host.toml:3:23: site.hosts:", `invalid host "www.*.example"`}},
		{"wrong_type.toml", []string{"wrong_type.toml:2:1: server.listen: must be an array of strings, not string", "wrong_type.toml:4:1: groups.g.instances: must be an integer, not string"}},
		{"table_type.toml", []string{"table_type.toml:1:1: server:", "must be a table"}},
		{"no_site.toml", []string{"no_site.toml: site: no [[site]] table"}},
		{"tls_missing_key.toml", []string{"tls_missing_key.toml:2:1: server.tls.key: required key is missing"}},
		{"bad_log_format.toml", []string{"bad_log_format.toml:2:1: server.log_format:", `"text" is not one of json, console`}},
		{"alias_missing_path.toml", []string{"alias_missing_path.toml:12:3: site.alias.path:", "static/nothing.txt", "does not exist"}},
		{"bad_outbound.toml", []string{
			`bad_outbound.toml:11:5: site.app.outbound: "http://db:5432": the scheme must be tcp://`,
			`bad_outbound.toml:12:5: site.app.outbound: "tcp://db": the port is required`,
			`bad_outbound.toml:13:5: site.app.outbound: "tcp://user:pw@db:5432": no user or password`,
			`bad_outbound.toml:14:5: site.app.outbound: "tcp://*.example.com:443": wildcards are not supported`,
			`bad_outbound.toml:16:5: site.app.outbound: db.internal:5432 is listed both as tcp:// and as tls://`,
			`bad_outbound.toml:17:33: site.app.outbound.ca: a CA file applies to tls:// entries only`,
			`bad_outbound.toml:18:30: site.app.outbound.ca: CA file`, "cert.pem holds no PEM certificate",
			`bad_outbound.toml:19:5: site.app.outbound: "tcp://db:99999": the port must be 1 to 65535`,
			`bad_outbound.toml:20:5: site.app.outbound: must be a "tcp://host:port" string`,
			`bad_outbound.toml:22:3: site.app.outbound_limit: must be at least 1`,
		}},
	}
	entries, err := os.ReadDir(filepath.Join("testdata", "bad"))
	if err != nil {
		t.Fatal(err)
	}
	tested := map[string]bool{}
	for _, tt := range tests {
		tested[tt.file] = true
		t.Run(strings.TrimSuffix(tt.file, ".toml"), func(t *testing.T) {
			file := filepath.Join("testdata", "bad", tt.file)
			c, err := Load(file)
			if err == nil {
				t.Fatalf("Load(%s) = %+v, want an error", file, c)
			}
			var errs Errors
			if !errors.As(err, &errs) {
				t.Fatalf("error is %T, want Errors", err)
			}
			text := err.Error()
			for _, want := range tt.want {
				if !strings.Contains(text, want) {
					t.Errorf("error\n%s\ndoes not contain\n%s", text, want)
				}
			}
		})
	}
	for _, e := range entries {
		if !tested[e.Name()] {
			t.Errorf("testdata/bad/%s has no test case", e.Name())
		}
	}
}

// TestAllProblems checks that one load reports every problem, each at its
// own line.
func TestAllProblems(t *testing.T) {
	const src = `[server]
log_format = "xml"

[[site]]
name = "s"
hosts = ["a.example"]

  [[site.app]]
  name = "a"
  mount = "/"
  module = "../site/app.wasm"

  [[site.app]]
  name = "b"
  mount = "b"
  module = "../site/app.wasm"
  abi = "wasi"
`
	_, err := Parse(filepath.Join("testdata", "good", "three.toml"), []byte(src))
	var errs Errors
	if !errors.As(err, &errs) {
		t.Fatalf("err = %v, want Errors", err)
	}
	want := []string{
		`three.toml:2:1: server.log_format: "xml" is not one of json, console`,
		`three.toml:15:3: site.app.mount: mount "b" must start with "/"`,
		`three.toml:17:3: site.app.abi: "wasi" is not one of wasgi, cgi`,
	}
	if len(errs) != len(want) {
		t.Fatalf("%d errors, want %d:\n%v", len(errs), len(want), err)
	}
	for i, w := range want {
		if got := errs[i].Error(); !strings.HasSuffix(got, w) {
			t.Errorf("error %d = %q, want suffix %q", i, got, w)
		}
	}
}

func TestErrorText(t *testing.T) {
	tests := []struct {
		err  Error
		want string
	}{
		{Error{File: "a.toml", Line: 3, Col: 5, Key: "site.name", Msg: "bad"}, "a.toml:3:5: site.name: bad"},
		{Error{File: "a.toml", Line: 3, Key: "site.name", Msg: "bad"}, "a.toml:3: site.name: bad"},
		{Error{File: "a.toml", Key: "site", Msg: "bad"}, "a.toml: site: bad"},
		{Error{File: "a.toml", Msg: "bad"}, "a.toml: bad"},
		{Error{Line: 1, Col: 2, Msg: "bad"}, "1:2: bad"},
	}
	for _, tt := range tests {
		if got := tt.err.Error(); got != tt.want {
			t.Errorf("Error() = %q, want %q", got, tt.want)
		}
	}
	errs := Errors{&tests[0].err, &tests[3].err}
	if got, want := errs.Error(), "a.toml:3:5: site.name: bad\na.toml: bad"; got != want {
		t.Errorf("Errors.Error() = %q, want %q", got, want)
	}
}

func TestLoadMissingFile(t *testing.T) {
	_, err := Load(filepath.Join("testdata", "nope.toml"))
	var errs Errors
	if !errors.As(err, &errs) || !strings.Contains(err.Error(), "nope.toml: cannot read config") {
		t.Fatalf("err = %v", err)
	}
}
