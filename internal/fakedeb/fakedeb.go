// Package fakedeb gives tests a pretend Debian: commands on PATH that
// answer for dpkg-query, apt-get and sudo, so that what installs packages
// (the setup command, runtimes/python/build.sh) can be run without
// touching the system, and what it would have run can be read back.
package fakedeb

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Install writes, into a new folder, a dpkg-query that lists every
// package as installed except missing, and an apt-get (and sudo) that
// write each call to the file calls and succeed for "update" only, so
// that a run which installs stops there. Put dir first on PATH.
func Install(tb testing.TB, missing ...string) (dir, calls string) {
	tb.Helper()
	dir = tb.TempDir()
	calls = filepath.Join(dir, "calls")
	scripts := map[string]string{
		"dpkg-query": `pkg="${@: -1}"
case " ` + strings.Join(missing, " ") + ` " in *" $pkg "*) echo "dpkg-query: no packages found matching $pkg" >&2; exit 1 ;; esac
printf installed`,
		"apt-get": `echo "apt-get $*" >>` + calls + `
[ "$1" = update ]`,
		"sudo": `echo "sudo $*" >>` + calls + `
exec "$@"`,
	}
	for name, body := range scripts {
		if err := os.WriteFile(filepath.Join(dir, name), []byte("#!/bin/bash\n"+body+"\n"), 0o755); err != nil {
			tb.Fatal(err)
		}
	}
	return dir, calls
}

// Path is PATH with dir first.
func Path(dir string) string {
	return dir + string(os.PathListSeparator) + os.Getenv("PATH")
}
