package sandbox

import (
	"context"
	"os"
	"path"
	"strings"

	"github.com/tetratelabs/wazero/api"

	"github.com/wasgi/wasgi/abi"
)

// lockFuncs are the file locks (abi/ABI.md section 4.9): WASI preview 1
// has none, so SQLite in a guest would corrupt a database that two
// instances write. The lock is taken by the host on the real file, as an
// open-file-description lock (Linux F_OFD_SETLK) on a descriptor the
// instance holds: instances conflict as processes do, and with the POSIX
// locks of a native process (python3 manage.py, sqlite3) on the same file.
// The descriptor, and with it every lock, goes when the instance does.
var lockFuncs = []hostFunc{
	newHostFunc(abi.FuncFileLock, fileLock, "errno", "path", "path_len", "cmd", "type", "start", "len"),
}

// resourceLockFile is the kind of a file held open for its locks.
const resourceLockFile resourceKind = 1

// maxLockFiles bounds the files an instance holds open for locks.
const maxLockFiles = 64

// lockRoot is one of an app's dirs, for resolving a guest path to its file.
type lockRoot struct {
	guest    string
	root     *os.Root
	readOnly bool
}

// lockFile is a file an instance holds open for its locks.
type lockFile struct {
	f      *os.File
	handle int32 // in the resource table, which closes it with the instance
	root   *os.Root
	name   string      // f's name in root
	fi     os.FileInfo // f's, to tell whether name still leads to it
}

// fileLock backs file_lock(path, path_len, cmd, type, start, len) -> i32.
func fileLock(ctx context.Context, m api.Module, stack []uint64) {
	p := guestBytes(m, abi.FuncFileLock, stack[0], stack[1])
	s := stateFrom(ctx)
	if s == nil {
		stack[0] = api.EncodeI32(abi.ErrNotAllowed)
		return
	}
	cmd, typ := api.DecodeI32(stack[2]), api.DecodeI32(stack[3])
	start, n := api.DecodeI32(stack[4]), api.DecodeI32(stack[5])
	if start < 0 || n < 0 || (cmd != abi.LockSet && cmd != abi.LockTest) || typ < abi.LockUnlock || typ > abi.LockWrite {
		stack[0] = api.EncodeI32(abi.ErrIO)
		return
	}
	f, code := s.lockFile(string(p), typ == abi.LockWrite)
	if code != 0 {
		stack[0] = api.EncodeI32(code)
		return
	}
	stack[0] = api.EncodeI32(lockRange(f, cmd, typ, int64(start), int64(n)))
}

// lockFile returns the instance's descriptor for the file at guest path
// p, opening it on first use through its dir's os.Root (so no link leads
// out), or an ABI error. A file replaced at p since (deleted and made
// again, or renamed over: rm db.sqlite3 && manage.py migrate) is opened
// anew: the locks must be on the file the path leads to now, the one a
// native process locks, not on the one the instance opened first. The
// old descriptor stays open with its locks until the instance ends.
func (s *instanceState) lockFile(p string, write bool) (*os.File, int32) {
	if !strings.HasPrefix(p, "/") || strings.ContainsRune(p, 0) {
		return nil, abi.ErrDenied
	}
	p = path.Clean(p)
	s.mu.Lock()
	lf, ok := s.lockFiles[p]
	s.mu.Unlock()
	if ok {
		if fi, err := lf.root.Stat(lf.name); err == nil && os.SameFile(fi, lf.fi) {
			return lf.f, 0
		}
	}
	var best *lockRoot
	for i := range s.roots {
		r := &s.roots[i]
		if r.guest != "/" && (p == r.guest || strings.HasPrefix(p, r.guest+"/")) && (best == nil || len(r.guest) > len(best.guest)) {
			best = r
		}
	}
	if best == nil || p == best.guest {
		return nil, abi.ErrDenied
	}
	flag := os.O_RDWR
	if best.readOnly {
		if write {
			return nil, abi.ErrDenied
		}
		flag = os.O_RDONLY
	}
	name := strings.TrimPrefix(p, best.guest+"/")
	f, err := best.root.OpenFile(name, flag, 0)
	if err != nil {
		return nil, abi.ErrIO
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, abi.ErrIO
	}
	if s.count(resourceLockFile) >= maxLockFiles {
		f.Close()
		return nil, abi.ErrIO
	}
	h, err := s.add(resourceLockFile, f, maxLockFiles)
	if err != nil {
		f.Close()
		return nil, abi.ErrIO
	}
	s.mu.Lock()
	if s.lockFiles == nil {
		s.lockFiles = map[string]lockFile{}
	}
	s.lockFiles[p] = lockFile{f: f, handle: h, root: best.root, name: name, fi: fi}
	s.mu.Unlock()
	return f, 0
}
