package setup

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

// TestStamp: a key's line is replaced, the others kept, and the file is
// left untouched (its mtime, which the test cache hashes) when the line
// is already there.
func TestStamp(t *testing.T) {
	root := t.TempDir()
	path := filepath.Join(root, StampName)
	read := func() string {
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	for _, s := range [][2]string{{"python-runtime", "/a 1 2"}, {"debian", "none missing"}, {"python-runtime", "/a 3 4"}} {
		if err := Stamp(root, s[0], s[1]); err != nil {
			t.Fatal(err)
		}
	}
	if got, want := read(), "debian none missing\npython-runtime /a 3 4\n"; got != want {
		t.Fatalf("stamp %q, want %q", got, want)
	}
	old := time.Now().Add(-time.Hour).Truncate(time.Second)
	os.Chtimes(path, old, old)
	if err := Stamp(root, "debian", "none missing"); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(path); err != nil || !fi.ModTime().Equal(old) {
		t.Errorf("an unchanged line rewrote the stamp (%v, %v)", fi.ModTime(), err)
	}
}

func TestInstallCommand(t *testing.T) {
	sudo := ""
	if os.Geteuid() != 0 {
		sudo = "sudo "
	}
	got := Shell(InstallCommand([]string{"clang", "rustc"}))
	if want := sudo + "apt-get update -qq && " + sudo + "apt-get install -y clang rustc"; got != want {
		t.Errorf("%q, want %q", got, want)
	}
}
