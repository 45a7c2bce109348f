//go:build !unix

package host

import (
	"errors"
	"os"
	"strings"
)

// openNoFollow, without openat(2)'s O_NOFOLLOW, checks every component of
// name for a link and then opens it through os.Root. A link swapped in
// between the two is followed (inside the alias folder only), so a denied
// folder next to a folder someone else may write is not safe here: run
// wasgi on a Unix (static_unix.go).
func (a *alias) openNoFollow(name string) (*os.File, error) {
	if err := noSymlinks(a.root, name); err != nil {
		return nil, err
	}
	return a.root.Open(name)
}

// errSymlink refuses a path through a symbolic link (403).
var errSymlink = errors.New("symbolic link not followed without FollowSymLinks")

// noSymlinks refuses a name any component of which is a symbolic link, as
// Apache does without Options FollowSymLinks.
func noSymlinks(root *os.Root, name string) error {
	name = strings.TrimSuffix(name, "/")
	if name == "." || name == "" {
		return nil
	}
	for i := 0; i <= len(name); i++ {
		if i < len(name) && name[i] != '/' {
			continue
		}
		fi, err := root.Lstat(name[:i])
		if err != nil {
			return err
		}
		if fi.Mode()&os.ModeSymlink != 0 {
			return errSymlink
		}
	}
	return nil
}
