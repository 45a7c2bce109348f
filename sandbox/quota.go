package sandbox

import (
	"io"
	"io/fs"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"
	experimentalsys "github.com/tetratelabs/wazero/experimental/sys"
	"github.com/tetratelabs/wazero/sys"
)

// Disk quotas of rw dirs.
//
// A guest writing in its rw dir in a loop filled the host's disk: the
// host's logs, cache and every other site's data with it. A Dir may set a
// quota in bytes and in files; its usage is counted per host directory,
// for every instance of every app of the process that mounts it, and an
// operation past a limit does nothing and gets ENOSPC (bytes) or EDQUOT
// (files), as a user past a disk quota would.
//
// Usage is scanned when an app mounts the dir (at start and at each
// reload, walking without following links) and then kept up to date from
// what the guests do through WASI:
//
//   - bytes are the apparent sizes of regular files (a sparse file counts
//     its whole size: a pwrite at a huge offset is refused, not a hole)
//     once per inode, plus the length of every symbolic link's target;
//     directories count no bytes (their blocks are left out);
//   - files are directory entries: files, directories, symbolic links and
//     each hard link.
//
// The numbers are approximate where the guests are not the only writers:
// what other processes change is picked up at the next reload, instances
// writing the same file at once may each count the same growth, and a
// file removed while still open keeps its bytes counted until the next
// scan. They err towards too much, never towards letting a guest past its
// limit through the operations above.

// WASI errnos of a refusal (wasi_snapshot_preview1 numbering, as
// wasi-libc's ENOSPC and EDQUOT).
const (
	wasiENOSPC = 51
	wasiEDQUOT = 19
	wasiEIO    = 29 // what the file system layer answers in their place
)

// dirUsage is what a host directory holds, shared by all its mounts.
type dirUsage struct {
	bytes, files atomic.Int64
}

// quotas are a runtime's dirUsage, by cleaned host path.
type quotas struct {
	mu   sync.Mutex
	dirs map[string]*dirUsage
}

// usage returns the usage of host dir, scanned now.
func (q *quotas) usage(dir string) *dirUsage {
	dir = filepath.Clean(dir)
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.dirs == nil {
		q.dirs = map[string]*dirUsage{}
	}
	u := q.dirs[dir]
	if u == nil {
		u = &dirUsage{}
		q.dirs[dir] = u
	}
	b, f := scanUsage(dir)
	u.bytes.Store(b)
	u.files.Store(f)
	return u
}

// scanUsage walks dir without following links: what usage counts.
func scanUsage(dir string) (bytes, files int64) {
	seen := map[[2]uint64]bool{}
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || p == dir {
			return nil // what cannot be read is not counted
		}
		files++
		fi, err := d.Info()
		if err != nil {
			return nil
		}
		switch st := sys.NewStat_t(fi); {
		case fi.Mode().IsRegular() && st.Nlink > 1:
			if k := [2]uint64{st.Dev, st.Ino}; !seen[k] {
				seen[k] = true
				bytes += st.Size
			}
		case fi.Mode().IsRegular(), fi.Mode()&fs.ModeSymlink != 0:
			bytes += st.Size
		}
		return nil
	})
	return bytes, files
}

// Quota is the limits of one rw dir; 0 is no limit.
type Quota struct {
	Bytes, Files int64
}

// QuotaStats count an app's refusals over a quota; they may outlive the
// app (the host keeps them across reloads).
type QuotaStats struct {
	Exceeded atomic.Int64
}

// dirQuota is one app's mount of a dir with a quota.
type dirQuota struct {
	u      *dirUsage
	limit  Quota
	guest  string
	log    zerolog.Logger
	stats  *QuotaStats
	warned atomic.Int64 // Unix ns of the last refusal logged
}

// take adds n to c unless that passes limit (0: none); n may be negative.
func take(c *atomic.Int64, n, limit int64) bool {
	if n <= 0 || limit <= 0 {
		c.Add(n)
		return true
	}
	for {
		cur := c.Load()
		if n > limit-cur {
			return false
		}
		if c.CompareAndSwap(cur, cur+n) {
			return true
		}
	}
}

// refuse records that instance c was refused with wasi errno e, logs it
// once per burst, and answers the errno the file system layer returns in
// its place (the WASI wrapper swaps it for e).
func (q *dirQuota) refuse(c *fileCount, e uint64) experimentalsys.Errno {
	c.quotaErr = e
	if q.stats != nil {
		q.stats.Exceeded.Add(1)
	}
	now := time.Now().UnixNano()
	if last := q.warned.Load(); now-last > int64(10*time.Second) && q.warned.CompareAndSwap(last, now) {
		q.log.Warn().Str("dir", q.guest).Int64("bytes", q.u.bytes.Load()).Int64("files", q.u.files.Load()).
			Int64("quota", q.limit.Bytes).Int64("quota_files", q.limit.Files).
			Msg("a guest reached its dir's disk quota: writes get ENOSPC, new files EDQUOT")
	}
	return experimentalsys.EIO
}

func (q *dirQuota) bytes(c *fileCount, n int64) experimentalsys.Errno {
	if !take(&q.u.bytes, n, q.limit.Bytes) {
		return q.refuse(c, wasiENOSPC)
	}
	return 0
}

func (q *dirQuota) files(c *fileCount, n int64) experimentalsys.Errno {
	if !take(&q.u.files, n, q.limit.Files) {
		return q.refuse(c, wasiEDQUOT)
	}
	return 0
}

// removed uncounts an entry that was st.
func (q *dirQuota) removed(st sys.Stat_t) {
	q.u.files.Add(-1)
	if (st.Mode.IsRegular() && st.Nlink <= 1) || st.Mode&fs.ModeSymlink != 0 {
		q.u.bytes.Add(-st.Size)
	}
}

// The operations of countingFS and countedFile that change usage, when
// the mount has a quota.

func (f countingFS) quotaOpen(p string, flag experimentalsys.Oflag, perm fs.FileMode) (experimentalsys.File, experimentalsys.Errno) {
	st, e := f.FS.Stat(p)
	exists := e == 0
	created := false
	if flag&experimentalsys.O_CREAT != 0 && !exists {
		if e := f.q.files(f.c, 1); e != 0 {
			return nil, e
		}
		created = true
	}
	file, errno := f.FS.OpenFile(p, flag, perm)
	if errno != 0 {
		if created {
			f.q.u.files.Add(-1)
		}
		return nil, errno
	}
	if flag&experimentalsys.O_TRUNC != 0 && exists && st.Mode.IsRegular() {
		f.q.u.bytes.Add(-st.Size)
	}
	return file, 0
}

// newEntry runs op, which makes one more entry, within the files quota:
// refused before op past it, given back when op fails.
func (f countingFS) newEntry(op func() experimentalsys.Errno) experimentalsys.Errno {
	if f.q == nil {
		return op()
	}
	if e := f.q.files(f.c, 1); e != 0 {
		return e
	}
	e := op()
	if e != 0 {
		f.q.u.files.Add(-1)
	}
	return e
}

// Mkdir implements experimentalsys.FS.
func (f countingFS) Mkdir(p string, perm fs.FileMode) experimentalsys.Errno {
	return f.newEntry(func() experimentalsys.Errno { return f.FS.Mkdir(p, perm) })
}

// Link implements experimentalsys.FS: one more entry, no more bytes.
func (f countingFS) Link(oldPath, newPath string) experimentalsys.Errno {
	return f.newEntry(func() experimentalsys.Errno { return f.FS.Link(oldPath, newPath) })
}

// Symlink implements experimentalsys.FS: one more entry, and its target.
func (f countingFS) Symlink(oldPath, linkName string) experimentalsys.Errno {
	if f.q == nil {
		return f.FS.Symlink(oldPath, linkName)
	}
	if e := f.q.files(f.c, 1); e != 0 {
		return e
	}
	if e := f.q.bytes(f.c, int64(len(oldPath))); e != 0 {
		f.q.u.files.Add(-1)
		return e
	}
	e := f.FS.Symlink(oldPath, linkName)
	if e != 0 {
		f.q.u.files.Add(-1)
		f.q.u.bytes.Add(-int64(len(oldPath)))
	}
	return e
}

// Unlink implements experimentalsys.FS.
func (f countingFS) Unlink(p string) experimentalsys.Errno {
	if f.q == nil {
		return f.FS.Unlink(p)
	}
	st, e := f.FS.Lstat(p)
	if e != 0 {
		return e
	}
	if e := f.FS.Unlink(p); e != 0 {
		return e
	}
	f.q.removed(st)
	return 0
}

// Rmdir implements experimentalsys.FS.
func (f countingFS) Rmdir(p string) experimentalsys.Errno {
	e := f.FS.Rmdir(p)
	if e == 0 && f.q != nil {
		f.q.u.files.Add(-1)
	}
	return e
}

// Rename implements experimentalsys.FS: a target replaced is removed.
func (f countingFS) Rename(from, to string) experimentalsys.Errno {
	if f.q == nil {
		return f.FS.Rename(from, to)
	}
	src, e := f.FS.Lstat(from)
	if e != 0 {
		return e
	}
	dst, de := f.FS.Lstat(to)
	if e := f.FS.Rename(from, to); e != 0 {
		return e
	}
	if de == 0 && (dst.Ino != src.Ino || dst.Dev != src.Dev) {
		f.q.removed(dst)
	}
	return 0
}

// grow counts what writing n bytes at off adds to file f, before the
// write; done, after it with what was written, gives back the rest.
func (f *countedFile) grow(off int64, n int) (done func(written int), _ experimentalsys.Errno) {
	st, e := f.File.Stat()
	if e != 0 {
		return nil, e
	}
	if off < 0 { // at the file's offset
		if f.File.IsAppend() {
			off = st.Size
		} else if off, e = f.File.Seek(0, io.SeekCurrent); e != 0 {
			return nil, e
		}
	}
	added := func(n int) int64 { return max(0, off+int64(n)-st.Size) }
	want := added(n)
	if want < 0 || off+int64(n) < off { // overflow: past any quota
		return nil, f.q.refuse(f.c, wasiENOSPC)
	}
	if e := f.q.bytes(f.c, want); e != 0 {
		return nil, e
	}
	return func(written int) { f.q.u.bytes.Add(added(written) - want) }, 0
}

// Write implements experimentalsys.File.
func (f *countedFile) Write(buf []byte) (int, experimentalsys.Errno) {
	if f.q == nil || len(buf) == 0 {
		return f.File.Write(buf)
	}
	done, e := f.grow(-1, len(buf))
	if e != 0 {
		return 0, e
	}
	n, e := f.File.Write(buf)
	done(n)
	return n, e
}

// Pwrite implements experimentalsys.File.
func (f *countedFile) Pwrite(buf []byte, off int64) (int, experimentalsys.Errno) {
	if f.q == nil || len(buf) == 0 || off < 0 {
		return f.File.Pwrite(buf, off)
	}
	done, e := f.grow(off, len(buf))
	if e != 0 {
		return 0, e
	}
	n, e := f.File.Pwrite(buf, off)
	done(n)
	return n, e
}

// Truncate implements experimentalsys.File (fd_filestat_set_size, and
// fd_allocate, which wazero does with it).
func (f *countedFile) Truncate(size int64) experimentalsys.Errno {
	if f.q == nil || size < 0 {
		return f.File.Truncate(size)
	}
	st, e := f.File.Stat()
	if e != 0 {
		return e
	}
	delta := size - st.Size
	if e := f.q.bytes(f.c, delta); e != 0 {
		return e
	}
	if e := f.File.Truncate(size); e != 0 {
		f.q.u.bytes.Add(-delta)
		return e
	}
	return 0
}
