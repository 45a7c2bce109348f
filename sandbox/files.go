package sandbox

import (
	"context"
	"fmt"
	"io/fs"
	"math"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"
	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	experimentalsys "github.com/tetratelabs/wazero/experimental/sys"
	"github.com/tetratelabs/wazero/experimental/sysfs"
	"github.com/tetratelabs/wazero/imports/wasi_snapshot_preview1"
)

// Bounding the descriptors guests hold.
//
// A file a guest opens in a preopened dir is a descriptor of the host
// process, and it stays open across requests while the instance is warm.
// Unbounded, a guest opening files in a loop took the process to its
// RLIMIT_NOFILE: the public listeners then failed every accept (EMFILE)
// and no site answered. So there are two limits, both checked by
// path_open before it opens anything:
//
//   - MaxOpenFiles per instance: one more open gets EMFILE, as a process
//     at its own RLIMIT_NOFILE would;
//   - a share of the process's descriptors for all guests together (what
//     RLIMIT_NOFILE leaves after the host's reserve, Runtime.ReserveFiles):
//     one more open gets ENFILE, the file table of the system being full,
//     and the host logs it once per burst.
//
// Every instance mounts its app's dirs through its own countingFS, a
// wrapper of the app's shared rootFS that counts opens and closes, so the
// counts are exact however the guest closes a file (fd_close, fd_renumber,
// the instance closing). Go raises the soft RLIMIT_NOFILE to the hard one
// at start on Linux (since Go 1.19), so the share is taken of that.

// MaxOpenFiles is the most files (and directories) one instance holds open
// at once in its preopened dirs.
const MaxOpenFiles = 256

// WASI errnos path_open answers past a limit (wasi_snapshot_preview1
// numbering, as wasi-libc's EMFILE and ENFILE).
const (
	wasiEMFILE = 33
	wasiENFILE = 41
)

// guestFiles counts the files every guest of a runtime holds open.
type guestFiles struct {
	held  atomic.Int64
	limit atomic.Int64 // the guests' share; math.MaxInt64 without a limit
	log   zerolog.Logger
	// warned is when the last refusal was logged, in Unix ns: one event
	// per burst.
	warned atomic.Int64
}

// fileCount counts the files one instance holds open.
type fileCount struct {
	n   atomic.Int32
	all *guestFiles
	// quotaErr is the WASI errno of the last quota refusal (quota.go), for
	// the WASI call under way to answer; an instance makes one call at a
	// time.
	quotaErr uint64
}

func (c *fileCount) opened() { c.n.Add(1); c.all.held.Add(1) }
func (c *fileCount) closed() { c.n.Add(-1); c.all.held.Add(-1) }

// admit is 0 when the instance may open one more file, or the errno that
// refuses it.
func (c *fileCount) admit() uint64 {
	if c.n.Load() >= MaxOpenFiles {
		return wasiEMFILE
	}
	if held, limit := c.all.held.Load(), c.all.limit.Load(); held >= limit {
		now := time.Now().UnixNano()
		if last := c.all.warned.Load(); now-last > int64(10*time.Second) && c.all.warned.CompareAndSwap(last, now) {
			c.all.log.Warn().Int64("held", held).Int64("share", limit).
				Msg("guests hold their whole share of the process's open files: their opens get ENFILE until they close some")
		}
		return wasiENFILE
	}
	return 0
}

// ReserveFiles keeps n of the process's descriptors (its soft
// RLIMIT_NOFILE) for the host itself: listeners, their connections, logs,
// the compilation cache, outbound connections. Guests together may then
// hold the rest open; ReserveFiles returns that share (math.MaxInt where
// the process has no such limit).
func (r *Runtime) ReserveFiles(n int) int {
	share := int64(math.MaxInt64)
	if limit := FileLimit(); limit > 0 {
		share = max(int64(limit)-int64(n), 0)
	}
	r.files.limit.Store(share)
	return int(min(share, math.MaxInt))
}

// preopens are an app's dirs, opened once for all its instances.
type preopens struct {
	fs    []experimentalsys.FS
	guest []string
	quota []*dirQuota // nil where the dir has no quota (quota.go)
}

// config mounts the dirs for one instance, counting its files in c.
func (p preopens) config(c *fileCount) wazero.FSConfig {
	fsc := wazero.NewFSConfig()
	for i, f := range p.fs {
		fsc = fsc.(sysfs.FSConfig).WithSysFSMount(countingFS{FS: f, c: c, q: p.quota[i]}, p.guest[i])
	}
	return fsc
}

// countingFS is one instance's view of a shared preopen: the same files,
// counted, and their usage too when the dir has a quota (q). wazero
// compares mounts with ==: every field must stay comparable.
type countingFS struct {
	experimentalsys.FS
	c *fileCount
	q *dirQuota
}

// OpenFile implements experimentalsys.FS.
func (f countingFS) OpenFile(p string, flag experimentalsys.Oflag, perm fs.FileMode) (experimentalsys.File, experimentalsys.Errno) {
	open := f.FS.OpenFile
	if f.q != nil {
		open = f.quotaOpen
	}
	file, errno := open(p, flag, perm)
	if errno != 0 {
		return nil, errno
	}
	f.c.opened()
	return &countedFile{File: file, c: f.c, q: f.q}, 0
}

// countedFile uncounts itself when closed, once.
type countedFile struct {
	experimentalsys.File
	c    *fileCount
	q    *dirQuota
	done atomic.Bool
}

// Close implements experimentalsys.File.
func (f *countedFile) Close() experimentalsys.Errno {
	if !f.done.Swap(true) {
		f.c.closed()
	}
	return f.File.Close()
}

// instantiateWASI registers WASI preview 1: wazero's functions, with a
// path_open that refuses past the limits above.
func instantiateWASI(ctx context.Context, rt wazero.Runtime) error {
	impl := rt.NewHostModuleBuilder(wasi_snapshot_preview1.ModuleName)
	wasi_snapshot_preview1.NewFunctionExporter().ExportFunctions(impl)
	compiled, err := impl.Compile(ctx)
	if err != nil {
		return err
	}
	defer compiled.Close(ctx)
	b := rt.NewHostModuleBuilder(wasi_snapshot_preview1.ModuleName)
	for name, d := range compiled.ExportedFunctions() {
		fn, ok := d.GoFunction().(api.GoModuleFunction)
		if !ok {
			return fmt.Errorf("wasi %s: a %T, not a Go function", name, d.GoFunction())
		}
		if name == "path_open" {
			fn = boundedPathOpen(fn)
		}
		if quotaFuncs[name] {
			fn = quotaErrno(fn)
		}
		b.NewFunctionBuilder().
			WithGoModuleFunction(fn, d.ParamTypes(), d.ResultTypes()).
			WithParameterNames(d.ParamNames()...).
			WithResultNames(d.ResultNames()...).
			Export(name)
	}
	_, err = b.Instantiate(ctx)
	return err
}

// boundedPathOpen is WASI path_open(fd, dirflags, path, path_len, oflags,
// fs_rights_base, fs_rights_inheriting, fdflags, result.opened_fd) ->
// errno, answering EMFILE or ENFILE instead of opening past a limit. A
// call without an instance (a test) is not bounded.
func boundedPathOpen(open api.GoModuleFunction) api.GoModuleFunc {
	return func(ctx context.Context, m api.Module, stack []uint64) {
		if s := stateFrom(ctx); s != nil && s.files != nil {
			if errno := s.files.admit(); errno != 0 {
				stack[0] = errno
				return
			}
		}
		open.Call(ctx, m, stack)
	}
}

// quotaFuncs are the WASI functions that may meet a quota (quota.go).
var quotaFuncs = map[string]bool{
	"fd_write": true, "fd_pwrite": true, "fd_allocate": true, "fd_filestat_set_size": true,
	"path_open": true, "path_create_directory": true, "path_rename": true,
	"path_link": true, "path_symlink": true,
}

// quotaErrno answers the ENOSPC or EDQUOT of a quota refusal in place of
// the EIO the file system layer could only return: wazero's errnos have
// neither.
func quotaErrno(fn api.GoModuleFunction) api.GoModuleFunc {
	return func(ctx context.Context, m api.Module, stack []uint64) {
		s := stateFrom(ctx)
		if s == nil || s.files == nil {
			fn.Call(ctx, m, stack)
			return
		}
		s.files.quotaErr = 0
		fn.Call(ctx, m, stack)
		if e := s.files.quotaErr; e != 0 && stack[0] == wasiEIO {
			stack[0] = e
		}
		s.files.quotaErr = 0
	}
}
