package sites

import (
	"bytes"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

func TestWriteTable(t *testing.T) {
	cfg, err := Load(filepath.Join("testdata", "good", "full.toml"))
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if err := cfg.WriteTable(&b); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	space := regexp.MustCompile(` {2,}`)
	rows := map[string]bool{}
	for _, line := range strings.Split(out, "\n") {
		rows[space.ReplaceAllString(strings.TrimSpace(line), " | ")] = true
	}
	for _, want := range []string{
		"SITE | HOSTS | KIND | URL | TARGET | GROUP | ABI",
		"shop | shop.example.com,*.shop.example.com | app | / | app.wasm | shop | wasgi",
		"app | /users | auth.wasm | shop/users | wasgi",
		"app | /cgi-bin | app.wasm | shop/legacy | cgi",
		"alias | /static/ | static/ | - | -",
		"alias | /robots.txt | static/robots.txt | - | -",
		"default | * | app | /hello | app.wasm | default/hello | wasgi",
		"GROUP | KIND | INSTANCES | MIN | MAX REQUESTS | REQUEST TIMEOUT | QUEUE TIMEOUT | IDLE TIMEOUT | MEMORY",
		"shop | shared | 8 | 2 | 10000 | 30s | 5s | 10m0s | 97600KiB",
		"shop/users | private | 4 | 0 | 0 | 1m0s | 10s | 5m0s | 256MiB",
	} {
		if !rows[want] {
			t.Errorf("table has no row %q:\n%s", want, out)
		}
	}
}

// TestWriteTablePython: a Python app shows its WSGI callable as TARGET
// and its runtime as ABI, not the "." of its empty module path and the
// "wasgi" ABI every Python app speaks.
func TestWriteTablePython(t *testing.T) {
	cfg, err := Parse(filepath.Join(t.TempDir(), "wasgi.toml"), []byte(`
[[site]]
name = "blog"
hosts = ["blog.example.com"]
  [[site.app]]
  name = "main"
  mount = "/"
  runtime = "python"
  wsgi = "mysite.wsgi"
`))
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if err := cfg.WriteTable(&b); err != nil {
		t.Fatal(err)
	}
	row := regexp.MustCompile(` {2,}`).ReplaceAllString(strings.Split(b.String(), "\n")[1], " | ")
	if want := "blog | blog.example.com | app | / | mysite.wsgi:application | blog/main | python"; strings.TrimSpace(row) != want {
		t.Fatalf("row %q, want %q:\n%s", row, want, b.String())
	}
}
