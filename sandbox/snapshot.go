package sandbox

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"runtime"
	"strconv"
	"sync/atomic"

	"github.com/wasgi/wasgi/internal/wasmrw"

	"github.com/tetratelabs/wazero/api"
)

// Instance snapshots.
//
// A Python app's instance spends 0.3 s to seconds in _initialize: starting
// the interpreter and importing the application. An app with
// AppConfig.Snapshot pays that once per pool: the first instance's linear
// memory and mutable globals are copied right after _initialize, and later
// instances are instantiated without start functions and given that state,
// which takes a memory mapping instead of an interpreter start (what wizer
// does ahead of time, done here at run time so the snapshot always matches
// the app's current environment and preopens).
//
// On Linux the snapshot's memory is written into a sealed memfd
// (sharedMemory), and each later instance with a memory_limit maps it
// copy-on-write as its linear memory (memoryAllocator.src): the instances
// share the snapshot's pages (23 MB for a Django app) and each owns only
// the pages it writes, where each used to own a copy of all of it. The
// memfd is sealed, and a private mapping's writes never reach the file,
// so no instance sees another's writes (TestSnapshotIsolation).
// Instantiation writes the module's data segments over the mapping before
// any guest code runs; restore maps the snapshot over it once more, which
// drops those pages, rather than copying the snapshot's bytes back over
// them. Elsewhere, or without a memory_limit, the snapshot is copied into
// each instance as before (from the memfd on Linux).
//
// wazero only reaches globals that are exported, so Compile rewrites every
// module to also export its mutable globals under wasmrw.GlobalExportPrefix.
// Everything else an instance has is rebuilt identically from the same
// ModuleConfig: the function table (only set by element segments in the
// modules this is used with), and the WASI preopens, which get the same
// descriptors because they are mounted in the same order. Files the guest
// left open during _initialize would be missing; interpreters close them.

// snapshotRestored is the optional export called on an instance started
// from a snapshot, before its first call, to renew what must differ between
// instances (the Python runtime reseeds its random module).
const snapshotRestored = "wasgi_snapshot_restored"

// snapshot is the state of an instance right after _initialize.
type snapshot struct {
	shared  *sharedMemory     // the memory, sealed (Linux); or
	mem     []byte            // a copy of it on the Go heap
	globals map[string]uint64 // export name -> value
	// handles is the last resource handle the source instance gave out:
	// its memory may still hold handles up to it (a connection opened at
	// import time), which in a copy name nothing. Copies number theirs
	// above it, so such a handle gets ErrBadHandle, never another
	// instance's resource.
	handles int32
}

// takeSnapshot copies mod's memory and mutable globals; live counts the
// bytes of snapshots held in memfds (spareSet.snapshots).
func takeSnapshot(mod api.Module, live *atomic.Int64) (*snapshot, error) {
	mem := mod.Memory()
	if mem == nil {
		return nil, errors.New("snapshot: the module has no memory")
	}
	b, ok := mem.Read(0, mem.Size())
	if !ok {
		return nil, errors.New("snapshot: cannot read memory")
	}
	s := &snapshot{globals: map[string]uint64{}}
	if sm, err := newSharedMemory(b, live); err == nil {
		s.shared = sm
		// Its descriptor goes with the snapshot; Pool.Unload and
		// Group.Close close it sooner.
		runtime.AddCleanup(s, (*sharedMemory).close, sm)
	} else {
		s.mem = bytes.Clone(b)
	}
	for i := 0; ; i++ {
		name := wasmrw.GlobalExportPrefix + strconv.Itoa(i)
		g := mod.ExportedGlobal(name)
		if g == nil {
			break
		}
		s.globals[name] = g.Get()
	}
	return s, nil
}

// size is the snapshot's memory, in bytes.
func (s *snapshot) size() uint64 {
	if s.shared != nil {
		return s.shared.size
	}
	return uint64(len(s.mem))
}

// close lets the snapshot's memory go once no instance maps it. An
// instance still starting from s would fail: for a pool that has no
// instance (Unload) or a group closing; otherwise the cleanup closes it
// once s is garbage.
func (s *snapshot) close() {
	if s != nil && s.shared != nil {
		s.shared.close()
	}
}

// restore gives mod, instantiated without start functions into the
// memory of a (nil: wazero's own), the state in s.
func (s *snapshot) restore(ctx context.Context, mod api.Module, a *memoryAllocator) error {
	mem := mod.Memory()
	if mem == nil {
		return errors.New("snapshot: the module has no memory")
	}
	size := s.size()
	if uint64(mem.Size()) < size {
		if _, ok := mem.Grow(uint32((size - uint64(mem.Size())) / (64 << 10))); !ok {
			return errors.New("snapshot: memory_limit is below the snapshot's memory")
		}
	}
	switch err := a.remap(); {
	case err == nil: // shared
	case !errors.Is(err, errNotShared):
		return fmt.Errorf("snapshot: map memory: %w", err)
	case s.shared != nil:
		b, ok := mem.Read(0, uint32(size))
		if !ok {
			return errors.New("snapshot: cannot write memory")
		}
		if _, err := s.shared.f.ReadAt(b, 0); err != nil {
			return fmt.Errorf("snapshot: read memory: %w", err)
		}
	default:
		if !mem.Write(0, s.mem) {
			return errors.New("snapshot: cannot write memory")
		}
	}
	for name, v := range s.globals {
		g, ok := mod.ExportedGlobal(name).(api.MutableGlobal)
		if !ok {
			return errors.New("snapshot: global " + name + " is not mutable")
		}
		g.Set(v)
	}
	if f := mod.ExportedFunction(snapshotRestored); f != nil {
		r, err := f.Call(ctx)
		if err != nil {
			return err
		}
		if len(r) == 1 && int32(r[0]) != 0 {
			return errors.New("snapshot: " + snapshotRestored + " returned " + strconv.Itoa(int(int32(r[0]))))
		}
	}
	return nil
}
