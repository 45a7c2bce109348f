package sandbox

import (
	"errors"
	"io"
	"io/fs"
	"os"
	"path"
	"strings"
	"syscall"
	"time"

	experimentalsys "github.com/tetratelabs/wazero/experimental/sys"
	"github.com/tetratelabs/wazero/experimental/sysfs"
	"github.com/tetratelabs/wazero/sys"
)

// rootFS is a guest's preopened directory, every operation going through
// an os.Root. wazero's own DirFS joins paths and lets the OS follow
// symbolic links, so a guest could create `/data/x -> /etc` in its rw dir
// and read the host's files; os.Root resolves every path inside the root
// and refuses what would leave it, "..", absolute links and links that
// climb out alike (openat2 RESOLVE_BENEATH where Linux has it).
type rootFS struct {
	experimentalsys.UnimplementedFS
	root *os.Root
}

// newRootFS opens dir as a sys.FS; read-only mounts refuse every write.
func newRootFS(dir string, readOnly bool) (experimentalsys.FS, *os.Root, error) {
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, nil, err
	}
	var fsys experimentalsys.FS = &rootFS{root: root}
	if readOnly {
		fsys = &sysfs.ReadFS{FS: fsys}
	}
	return fsys, root, nil
}

// name turns a path wazero hands us (relative to the mount, maybe "" or
// with a leading slash) into a name for os.Root.
func name(p string) string {
	p = path.Clean("/" + p)
	if p == "/" {
		return "."
	}
	return p[1:]
}

// errno maps an error to a WASI errno; a path that would leave the root is
// EPERM, as a sandbox refusal, not an I/O error.
func errno(err error) experimentalsys.Errno {
	if err == nil {
		return 0
	}
	if e := experimentalsys.UnwrapOSError(err); e != experimentalsys.EIO {
		return e
	}
	if strings.Contains(err.Error(), "escapes") {
		return experimentalsys.EPERM
	}
	return experimentalsys.EIO
}

func osFlags(f experimentalsys.Oflag) int {
	var o int
	switch {
	case f&experimentalsys.O_RDWR != 0:
		o = os.O_RDWR
	case f&experimentalsys.O_WRONLY != 0:
		o = os.O_WRONLY
	default:
		o = os.O_RDONLY
	}
	for _, m := range []struct {
		w experimentalsys.Oflag
		o int
	}{
		{experimentalsys.O_APPEND, os.O_APPEND}, {experimentalsys.O_CREAT, os.O_CREATE},
		{experimentalsys.O_EXCL, os.O_EXCL}, {experimentalsys.O_TRUNC, os.O_TRUNC},
		{experimentalsys.O_SYNC, os.O_SYNC}, {experimentalsys.O_DSYNC, syscall.O_DSYNC},
		{experimentalsys.O_NOFOLLOW, syscall.O_NOFOLLOW}, {experimentalsys.O_DIRECTORY, syscall.O_DIRECTORY},
	} {
		if f&m.w != 0 {
			o |= m.o
		}
	}
	return o
}

// OpenFile implements experimentalsys.FS.
func (r *rootFS) OpenFile(p string, flag experimentalsys.Oflag, perm fs.FileMode) (experimentalsys.File, experimentalsys.Errno) {
	if flag&experimentalsys.O_DIRECTORY != 0 && flag&(experimentalsys.O_WRONLY|experimentalsys.O_RDWR) != 0 {
		return nil, experimentalsys.EISDIR
	}
	f, err := r.root.OpenFile(name(p), osFlags(flag), perm)
	if err != nil {
		return nil, errno(err)
	}
	return &rootFile{f: f, append: flag&experimentalsys.O_APPEND != 0}, 0
}

// Lstat implements experimentalsys.FS.
func (r *rootFS) Lstat(p string) (sys.Stat_t, experimentalsys.Errno) {
	fi, err := r.root.Lstat(name(p))
	if err != nil {
		return sys.Stat_t{}, errno(err)
	}
	return sys.NewStat_t(fi), 0
}

// Stat implements experimentalsys.FS.
func (r *rootFS) Stat(p string) (sys.Stat_t, experimentalsys.Errno) {
	fi, err := r.root.Stat(name(p))
	if err != nil {
		return sys.Stat_t{}, errno(err)
	}
	return sys.NewStat_t(fi), 0
}

// Mkdir implements experimentalsys.FS.
func (r *rootFS) Mkdir(p string, perm fs.FileMode) experimentalsys.Errno {
	return errno(r.root.Mkdir(name(p), perm))
}

// Chmod implements experimentalsys.FS.
func (r *rootFS) Chmod(p string, perm fs.FileMode) experimentalsys.Errno {
	return errno(r.root.Chmod(name(p), perm))
}

// Rename implements experimentalsys.FS.
func (r *rootFS) Rename(from, to string) experimentalsys.Errno {
	return errno(r.root.Rename(name(from), name(to)))
}

// Rmdir implements experimentalsys.FS.
func (r *rootFS) Rmdir(p string) experimentalsys.Errno {
	fi, err := r.root.Lstat(name(p))
	if err != nil {
		return errno(err)
	}
	if !fi.IsDir() {
		return experimentalsys.ENOTDIR
	}
	return errno(r.root.Remove(name(p)))
}

// Unlink implements experimentalsys.FS.
func (r *rootFS) Unlink(p string) experimentalsys.Errno {
	fi, err := r.root.Lstat(name(p))
	if err != nil {
		return errno(err)
	}
	if fi.IsDir() {
		return experimentalsys.EISDIR
	}
	return errno(r.root.Remove(name(p)))
}

// Link implements experimentalsys.FS.
func (r *rootFS) Link(oldPath, newPath string) experimentalsys.Errno {
	return errno(r.root.Link(name(oldPath), name(newPath)))
}

// Symlink implements experimentalsys.FS. A link may point anywhere: it is
// following it that the root refuses when it leads out.
func (r *rootFS) Symlink(oldPath, linkName string) experimentalsys.Errno {
	return errno(r.root.Symlink(oldPath, name(linkName)))
}

// Readlink implements experimentalsys.FS.
func (r *rootFS) Readlink(p string) (string, experimentalsys.Errno) {
	dst, err := r.root.Readlink(name(p))
	return dst, errno(err)
}

// Utimens implements experimentalsys.FS.
func (r *rootFS) Utimens(p string, atim, mtim int64) experimentalsys.Errno {
	at, mt := time.Unix(0, atim), time.Unix(0, mtim)
	if atim == experimentalsys.UTIME_OMIT || mtim == experimentalsys.UTIME_OMIT {
		fi, err := r.root.Stat(name(p))
		if err != nil {
			return errno(err)
		}
		st := sys.NewStat_t(fi)
		if atim == experimentalsys.UTIME_OMIT {
			at = time.Unix(0, st.Atim)
		}
		if mtim == experimentalsys.UTIME_OMIT {
			mt = time.Unix(0, st.Mtim)
		}
	}
	return errno(r.root.Chtimes(name(p), at, mt))
}

// rootFile is a file opened through a rootFS: only fd-based operations,
// never a path, so nothing can be re-resolved outside the root.
type rootFile struct {
	experimentalsys.UnimplementedFile
	f      *os.File
	append bool
}

func (f *rootFile) stat() (sys.Stat_t, experimentalsys.Errno) {
	fi, err := f.f.Stat()
	if err != nil {
		return sys.Stat_t{}, errno(err)
	}
	return sys.NewStat_t(fi), 0
}

// Dev implements experimentalsys.File.
func (f *rootFile) Dev() (uint64, experimentalsys.Errno) {
	st, e := f.stat()
	return st.Dev, e
}

// Ino implements experimentalsys.File.
func (f *rootFile) Ino() (sys.Inode, experimentalsys.Errno) {
	st, e := f.stat()
	return st.Ino, e
}

// IsDir implements experimentalsys.File.
func (f *rootFile) IsDir() (bool, experimentalsys.Errno) {
	st, e := f.stat()
	return st.Mode.IsDir(), e
}

// IsAppend implements experimentalsys.File.
func (f *rootFile) IsAppend() bool { return f.append }

// SetAppend implements experimentalsys.File.
func (f *rootFile) SetAppend(enable bool) experimentalsys.Errno {
	if enable == f.append {
		return 0
	}
	return experimentalsys.ENOSYS
}

// Stat implements experimentalsys.File.
func (f *rootFile) Stat() (sys.Stat_t, experimentalsys.Errno) { return f.stat() }

// Read implements experimentalsys.File.
func (f *rootFile) Read(buf []byte) (int, experimentalsys.Errno) {
	if len(buf) == 0 {
		return 0, 0
	}
	n, err := f.f.Read(buf)
	if errors.Is(err, io.EOF) {
		err = nil
	}
	return n, errno(err)
}

// Pread implements experimentalsys.File.
func (f *rootFile) Pread(buf []byte, off int64) (int, experimentalsys.Errno) {
	if len(buf) == 0 {
		return 0, 0
	}
	n, err := f.f.ReadAt(buf, off)
	if errors.Is(err, io.EOF) {
		err = nil
	}
	return n, errno(err)
}

// Seek implements experimentalsys.File. Seeking a directory to 0 rewinds
// its listing (os.File drops its directory state).
func (f *rootFile) Seek(offset int64, whence int) (int64, experimentalsys.Errno) {
	n, err := f.f.Seek(offset, whence)
	return n, errno(err)
}

// Readdir implements experimentalsys.File.
func (f *rootFile) Readdir(n int) ([]experimentalsys.Dirent, experimentalsys.Errno) {
	entries, err := f.f.ReadDir(n)
	if errors.Is(err, io.EOF) {
		err = nil
	}
	out := make([]experimentalsys.Dirent, 0, len(entries))
	for _, e := range entries {
		d := experimentalsys.Dirent{Name: e.Name(), Type: e.Type()}
		if fi, err := e.Info(); err == nil {
			d.Ino = sys.NewStat_t(fi).Ino
		}
		out = append(out, d)
	}
	return out, errno(err)
}

// Write implements experimentalsys.File.
func (f *rootFile) Write(buf []byte) (int, experimentalsys.Errno) {
	if len(buf) == 0 {
		return 0, 0
	}
	n, err := f.f.Write(buf)
	return n, errno(err)
}

// Pwrite implements experimentalsys.File.
func (f *rootFile) Pwrite(buf []byte, off int64) (int, experimentalsys.Errno) {
	if len(buf) == 0 {
		return 0, 0
	}
	n, err := f.f.WriteAt(buf, off)
	return n, errno(err)
}

// Truncate implements experimentalsys.File.
func (f *rootFile) Truncate(size int64) experimentalsys.Errno { return errno(f.f.Truncate(size)) }

// Sync implements experimentalsys.File.
func (f *rootFile) Sync() experimentalsys.Errno { return errno(f.f.Sync()) }

// Datasync implements experimentalsys.File.
func (f *rootFile) Datasync() experimentalsys.Errno { return errno(f.f.Sync()) }

// Close implements experimentalsys.File.
func (f *rootFile) Close() experimentalsys.Errno { return errno(f.f.Close()) }

// Interface guards.
var (
	_ experimentalsys.FS   = (*rootFS)(nil)
	_ experimentalsys.File = (*rootFile)(nil)
)
