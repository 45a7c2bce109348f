package sandbox

import (
	"bytes"
	"context"
	"errors"
	"strconv"

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
// which takes a memory copy instead of an interpreter start (what wizer
// does ahead of time, done here at run time so the snapshot always matches
// the app's current environment and preopens).
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
	mem     []byte
	globals map[string]uint64 // export name -> value
	// handles is the last resource handle the source instance gave out:
	// its memory may still hold handles up to it (a connection opened at
	// import time), which in a copy name nothing. Copies number theirs
	// above it, so such a handle gets ErrBadHandle, never another
	// instance's resource.
	handles int32
}

// takeSnapshot copies mod's memory and mutable globals.
func takeSnapshot(mod api.Module) (*snapshot, error) {
	mem := mod.Memory()
	if mem == nil {
		return nil, errors.New("snapshot: the module has no memory")
	}
	b, ok := mem.Read(0, mem.Size())
	if !ok {
		return nil, errors.New("snapshot: cannot read memory")
	}
	s := &snapshot{mem: bytes.Clone(b), globals: map[string]uint64{}}
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

// restore gives mod, instantiated without start functions, the state in s.
func (s *snapshot) restore(ctx context.Context, mod api.Module) error {
	mem := mod.Memory()
	if mem == nil {
		return errors.New("snapshot: the module has no memory")
	}
	if size := uint32(len(s.mem)); mem.Size() < size {
		if _, ok := mem.Grow((size - mem.Size()) / (64 << 10)); !ok {
			return errors.New("snapshot: memory_limit is below the snapshot's memory")
		}
	}
	if !mem.Write(0, s.mem) {
		return errors.New("snapshot: cannot write memory")
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
