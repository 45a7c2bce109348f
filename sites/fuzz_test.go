package sites

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// FuzzParse checks that Parse never panics, that a config it accepts keeps
// the invariants the host relies on, and that every problem it reports is
// an *Error with a message (and a line, except for a missing [[site]]).
func FuzzParse(f *testing.F) {
	for _, dir := range []string{"good", "bad"} {
		files, err := filepath.Glob(filepath.Join("testdata", dir, "*.toml"))
		if err != nil {
			f.Fatal(err)
		}
		for _, file := range files {
			data, err := os.ReadFile(file)
			if err != nil {
				f.Fatal(err)
			}
			f.Add(data)
		}
	}
	// Relative paths in the seeds resolve from testdata/good or testdata/bad
	// alike.
	file := filepath.Join("testdata", "good", "fuzz.toml")
	f.Fuzz(func(t *testing.T, data []byte) {
		cfg, err := Parse(file, data)
		if err != nil {
			var errs Errors
			if !errors.As(err, &errs) || len(errs) == 0 {
				t.Fatalf("error %T %v is not a non-empty Errors", err, err)
			}
			for _, e := range errs {
				if e.Msg == "" {
					t.Errorf("error without message: %+v", e)
				}
				if e.Line == 0 && !(e.Key == "site" && strings.HasPrefix(e.Msg, "no [[site]]")) {
					t.Errorf("error without line: %v", e)
				}
			}
			return
		}
		if cfg.Groups == nil || len(cfg.Sites) == 0 || len(cfg.Server.Listen)+len(cfg.Server.ListenTLS) == 0 || !filepath.IsAbs(cfg.Server.CacheDir) {
			t.Fatalf("incomplete config: %+v", cfg)
		}
		for name, g := range cfg.Groups {
			if g.Name != name || g.Instances < 1 || g.MinInstances < 0 || g.MinInstances > g.Instances ||
				g.MemoryLimit < 65536 || g.MemoryLimit%65536 != 0 || g.RequestTimeout <= 0 {
				t.Errorf("bad group %q: %+v", name, g)
			}
		}
		for _, s := range cfg.Sites {
			if len(s.Hosts) == 0 || !filepath.IsAbs(s.Root) {
				t.Errorf("bad site %+v", s)
			}
			for _, a := range s.Apps {
				if _, ok := cfg.Groups[a.Group]; !ok {
					t.Errorf("app %s/%s: group %q not in Groups", s.Name, a.Name, a.Group)
				}
				if !strings.HasPrefix(a.Mount, "/") || (a.Mount != "/" && strings.HasSuffix(a.Mount, "/")) {
					t.Errorf("app %s/%s: mount %q", s.Name, a.Name, a.Mount)
				}
				if !filepath.IsAbs(a.Module) || a.Env == nil {
					t.Errorf("app %s/%s: %+v", s.Name, a.Name, a)
				}
			}
			for _, al := range s.Aliases {
				if !strings.HasPrefix(al.URL, "/") || al.File == strings.HasSuffix(al.URL, "/") || !filepath.IsAbs(al.Path) {
					t.Errorf("alias %+v", al)
				}
			}
		}
	})
}
