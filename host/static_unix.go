//go:build unix

package host

import (
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"
)

// openNoFollow opens name (slash-separated, cleaned, relative to the alias
// folder; a final "/" wants a folder) one component at a time, with
// openat(2) and O_NOFOLLOW from the folder's descriptor. A symbolic link
// anywhere in the name fails the open (ELOOP: 403), whenever it appeared.
//
// Checking the name for links and then opening it, even through os.Root
// (which follows links that stay inside it), leaves a window: whoever may
// write in a folder under the alias (an app's rw dir) swaps a file for a
// link into a denied folder between the check and the open, and the
// denied file is served. Here nothing is checked before it is used: the
// file opened is the one at name, so name's directory rules are the rules
// of the file served.
//
// The last component is opened O_NONBLOCK, so that a FIFO planted there
// cannot hang the request (serveAlias serves only files and folders).
func (a *alias) openNoFollow(name string) (*os.File, error) {
	wantDir := strings.HasSuffix(name, "/")
	name = strings.TrimSuffix(name, "/")
	rc, err := a.dir.SyscallConn()
	if err != nil {
		return nil, err
	}
	fd, oerr := -1, error(nil)
	if err := rc.Control(func(dir uintptr) { fd, oerr = walkNoFollow(int(dir), name, wantDir) }); err != nil {
		return nil, err
	}
	if oerr != nil {
		return nil, &fs.PathError{Op: "openat", Path: name, Err: oerr}
	}
	return os.NewFile(uintptr(fd), filepath.Join(a.path, filepath.FromSlash(name))), nil
}

// walkNoFollow opens name below the folder dirfd, each component with
// O_NOFOLLOW, closing the folders it passes through.
func walkNoFollow(dirfd int, name string, wantDir bool) (int, error) {
	cur := dirfd
	for {
		elem, rest, more := strings.Cut(name, "/")
		if elem == ".." || elem == "" { // resolve never makes them; never climb
			if cur != dirfd {
				unix.Close(cur)
			}
			return -1, unix.EPERM
		}
		flags := unix.O_RDONLY | unix.O_CLOEXEC | unix.O_NOFOLLOW
		if more || wantDir {
			flags |= unix.O_DIRECTORY
		} else {
			flags |= unix.O_NONBLOCK
		}
		fd, err := unix.Openat(cur, elem, flags, 0)
		for err == unix.EINTR {
			fd, err = unix.Openat(cur, elem, flags, 0)
		}
		if err == unix.ENOTDIR || err == unix.EMLINK { // what Linux and FreeBSD answer for some links
			var st unix.Stat_t
			if unix.Fstatat(cur, elem, &st, unix.AT_SYMLINK_NOFOLLOW) == nil && st.Mode&unix.S_IFMT == unix.S_IFLNK {
				err = unix.ELOOP // a link, not a missing folder: 403, not 404
			}
		}
		if cur != dirfd {
			unix.Close(cur)
		}
		switch {
		case err != nil:
			return -1, err
		case !more:
			return fd, nil
		}
		cur, name = fd, rest
	}
}
