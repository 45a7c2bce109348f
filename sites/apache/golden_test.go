package apache

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/BurntSushi/toml"
	"github.com/rs/zerolog"

	"github.com/wasgi/wasgi/host"
	"github.com/wasgi/wasgi/internal/setup"
	"github.com/wasgi/wasgi/internal/testwasm"
	"github.com/wasgi/wasgi/sites"
)

var update = flag.Bool("update", false, "rewrite the golden files testdata/*.toml and testdata/*.report")

// confs lists the golden configurations: testdata/*.conf.
func confs(t *testing.T) []string {
	t.Helper()
	list, err := filepath.Glob("testdata/*.conf")
	if err != nil || len(list) == 0 {
		t.Fatalf("no testdata/*.conf: %v", err)
	}
	return list
}

// TestGolden translates each testdata/*.conf and compares the TOML and the
// report with testdata/*.toml and testdata/*.report (-update rewrites
// them).
func TestGolden(t *testing.T) {
	for _, conf := range confs(t) {
		base := strings.TrimSuffix(conf, ".conf")
		t.Run(filepath.Base(base), func(t *testing.T) {
			res, err := Import(conf)
			if err != nil {
				t.Fatal(err)
			}
			var report bytes.Buffer
			if err := res.WriteReport(&report); err != nil {
				t.Fatal(err)
			}
			golden(t, base+".toml", res.TOML)
			golden(t, base+".report", report.Bytes())
		})
	}
}

func golden(t *testing.T, file string, got []byte) {
	t.Helper()
	if *update {
		if err := os.WriteFile(file, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(file)
	if err != nil {
		t.Fatalf("%v (run go test -update to write it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs (go test -update rewrites it); got:\n%s", file, got)
	}
}

// rooted are the folders the test configurations keep their files in;
// the round trip moves them below a temporary folder.
var rooted = []string{"/srv/", "/etc/", "/var/"}

// checked are the configurations whose translation TestRoundTrip also
// checks as `wasgi check` does, compiling the Python runtime and checking
// the auth providers' exports, when the runtime is built: between them
// they have daemon groups, auth, aliases and every kind of rule.
var checked = map[string]bool{"testdata/django-auth.conf": true, "testdata/multi-vhost.conf": true}

// TestRoundTrip loads the TOML made from each testdata/*.conf with
// sites.Load, once the files and folders it names exist: the output is a
// valid wasgi configuration, and it keeps what the report says.
func TestRoundTrip(t *testing.T) {
	for _, conf := range confs(t) {
		t.Run(filepath.Base(conf), func(t *testing.T) {
			res, err := Import(conf)
			if err != nil {
				t.Fatal(err)
			}
			root := t.TempDir()
			text := string(res.TOML)
			for _, r := range rooted {
				text = strings.ReplaceAll(text, `"`+r, `"`+root+r)
			}
			var raw struct {
				Server struct {
					AccessLogFile string `toml:"access_log_file"`
				}
				Site []struct {
					App []struct {
						Wsgi          string
						PythonPath    []string `toml:"python_path"`
						PythonHome    string   `toml:"python_home"`
						CheckPassword string   `toml:"check_password"`
						GroupsForUser string   `toml:"groups_for_user"`
					}
					Alias []struct{ URL, Path string }
				}
			}
			if _, err := toml.Decode(text, &raw); err != nil {
				t.Fatalf("not TOML: %v", err)
			}
			mkdir := func(p string) {
				if err := os.MkdirAll(p, 0o755); err != nil {
					t.Fatal(err)
				}
			}
			if f := raw.Server.AccessLogFile; f != "" {
				mkdir(filepath.Dir(f))
			}
			apps := 0
			for _, s := range raw.Site {
				for _, a := range s.App {
					apps++
					for _, p := range a.PythonPath {
						mkdir(p)
					}
					// The modules the app names, as stubs, in its first
					// python_path folder: wasgi check imports them.
					for _, target := range []string{a.Wsgi, a.CheckPassword, a.GroupsForUser} {
						module, _, _ := strings.Cut(target, ":")
						if module == "" || len(a.PythonPath) == 0 || strings.HasPrefix(module, "django.") {
							continue
						}
						parts := strings.Split(module, ".")
						dir := a.PythonPath[0]
						for _, pkg := range parts[:len(parts)-1] {
							dir = filepath.Join(dir, pkg)
							mkdir(dir)
							os.WriteFile(filepath.Join(dir, "__init__.py"), nil, 0o644)
						}
						stub := "def application(environ, start_response):\n    start_response('200 OK', [])\n    return [b'']\n" +
							"def check_password(environ, user, password):\n    return None\n" +
							"def groups_for_user(environ, user):\n    return []\n"
						if err := os.WriteFile(filepath.Join(dir, parts[len(parts)-1]+".py"), []byte(stub), 0o644); err != nil {
							t.Fatal(err)
						}
					}
					if a.PythonHome != "" {
						mkdir(filepath.Join(a.PythonHome, "lib", "python3.11", "site-packages"))
					}
				}
				for _, a := range s.Alias {
					if strings.HasSuffix(a.URL, "/") {
						mkdir(a.Path)
						continue
					}
					mkdir(filepath.Dir(a.Path))
					if err := os.WriteFile(a.Path, nil, 0o644); err != nil {
						t.Fatal(err)
					}
				}
			}
			file := filepath.Join(root, "wasgi.toml")
			if err := os.WriteFile(file, []byte(text), 0o644); err != nil {
				t.Fatal(err)
			}
			cfg, err := sites.Load(file)
			if err != nil {
				t.Fatalf("%v\n%s", err, text)
			}
			got := 0
			for _, s := range cfg.Sites {
				got += len(s.Apps)
				for _, a := range s.Apps {
					if a.Runtime != "python" || a.Python == nil {
						t.Errorf("app %s/%s: not a Python app", s.Name, a.Name)
						continue
					}
					for _, p := range append(a.Python.Path, a.Python.Home) {
						if p != "" && !strings.HasPrefix(p, root) {
							t.Errorf("app %s/%s: path %s is outside the test's folder", s.Name, a.Name, p)
						}
					}
				}
				for _, al := range s.Aliases {
					if !strings.HasPrefix(al.Path, root) {
						t.Errorf("alias %s: path %s is outside the test's folder", al.URL, al.Path)
					}
				}
			}
			if got != apps || len(cfg.Sites) != len(raw.Site) {
				t.Errorf("loaded %d sites and %d apps, the TOML has %d and %d", len(cfg.Sites), got, len(raw.Site), apps)
			}
			if !checked[conf] {
				return
			}
			setup.Observe() // a runtime built later reruns the check
			if _, err := host.PythonRuntimeDir(); err != nil {
				t.Logf("not checked as wasgi check does: %v", err)
				return
			}
			cfg.Server.CacheDir = testwasm.CacheDir(t)
			if err := host.Check(context.Background(), cfg, zerolog.Nop()); err != nil {
				t.Errorf("wasgi check: %v", err)
			}
		})
	}
}

// TestEveryDirectiveReported checks that the report has an entry for every
// directive of every golden configuration.
func TestEveryDirectiveReported(t *testing.T) {
	for _, conf := range confs(t) {
		list, err := ParseFiles(conf)
		if err != nil {
			t.Fatal(err)
		}
		res := Translate(list)
		for _, e := range res.Report {
			if e.Status < Translated || e.Status > Ignored || e.Message == "" || e.Directive == "" || e.File == "" || e.Line < 1 {
				t.Errorf("%s: bad entry %+v", conf, e)
			}
		}
		for _, d := range unreported(res, list) {
			t.Errorf("%s: no report entry for %s (%s)", conf, d, at(d))
		}
	}
}

// unreported lists the directives the report has no entry for (by file and
// line); the directives inside a section reported as ignored count as
// reported with it.
func unreported(res *Result, conf []*Directive) []*Directive {
	seen := map[string]Status{}
	for _, e := range res.Report {
		k := fmt.Sprintf("%s:%d", e.File, e.Line)
		seen[k] = max(seen[k], e.Status)
	}
	var out []*Directive
	var walk func([]*Directive, bool)
	walk = func(list []*Directive, covered bool) {
		for _, d := range list {
			s, ok := seen[at(d)]
			if !ok && !covered {
				out = append(out, d)
			}
			walk(d.Children, covered || d.Section && s == Ignored)
		}
	}
	walk(conf, false)
	return out
}
