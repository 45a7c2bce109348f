package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestImportApache(t *testing.T) {
	conf := filepath.Join("..", "..", "sites", "apache", "testdata", "django-daemon.conf")
	var stdout, stderr bytes.Buffer
	if code := run([]string{"import", "apache", conf}, &stdout, &stderr, nil); code != 0 {
		t.Fatalf("exit %d\n%s", code, stderr.String())
	}
	if !strings.Contains(stdout.String(), `[groups."example.com"]`) || !strings.Contains(stdout.String(), `wsgi = "mysite.wsgi:application"`) {
		t.Errorf("stdout is not the TOML:\n%s", stdout.String())
	}
	for _, want := range []string{conf + ":3: translated: WSGIDaemonProcess example.com: [groups.", conf + ":3: ignored: WSGIDaemonProcess example.com display-name", "translated,", "ignored\n"} {
		if !strings.Contains(stderr.String(), want) {
			t.Errorf("stderr lacks %q:\n%s", want, stderr.String())
		}
	}

	// -o after the file names; the TOML goes to the file only.
	out := filepath.Join(t.TempDir(), "wasgi.toml")
	stdout.Reset()
	stderr.Reset()
	if code := run([]string{"import", "apache", conf, "-o", out}, &stdout, &stderr, nil); code != 0 {
		t.Fatalf("exit %d\n%s", code, stderr.String())
	}
	data, err := os.ReadFile(out)
	if err != nil || !bytes.Contains(data, []byte(`[groups."example.com"]`)) {
		t.Fatalf("%s: %v\n%s", out, err, data)
	}
	if stdout.Len() != 0 || !strings.Contains(stderr.String(), "wrote the wasgi configuration") {
		t.Errorf("stdout %q, stderr:\n%s", stdout.String(), stderr.String())
	}
}

func TestImportErrors(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.conf")
	if err := os.WriteFile(bad, []byte("Listen 80\n<VirtualHost *:80>\nServerName \"x\n</VirtualHost>\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		args   []string
		code   int
		stderr string
	}{
		{[]string{"import"}, 2, "usage: wasgi import apache"},
		{[]string{"import", "nginx", "x.conf"}, 2, "usage: wasgi import apache"},
		{[]string{"import", "apache"}, 2, "usage: wasgi import apache"},
		{[]string{"import", "apache", "-x", bad}, 2, "flag provided but not defined: -x"},
		{[]string{"import", "apache", bad}, 1, bad + ":3: unclosed \" quote"},
		{[]string{"import", "apache", filepath.Join(dir, "missing.conf")}, 1, "missing.conf: cannot read"},
		{[]string{"import", "apache", "-o", filepath.Join(dir, "no", "such", "dir.toml"), filepath.Join("..", "..", "sites", "apache", "testdata", "django-basic.conf")}, 1, "write TOML"},
	}
	for _, tc := range cases {
		var stdout, stderr bytes.Buffer
		code := run(tc.args, &stdout, &stderr, nil)
		if code != tc.code || !strings.Contains(stderr.String(), tc.stderr) {
			t.Errorf("%q: exit %d, stderr:\n%s\nwant exit %d and %q", tc.args, code, stderr.String(), tc.code, tc.stderr)
		}
	}
}
