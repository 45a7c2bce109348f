package sandbox

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"strconv"
	"strings"

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
// module to also export its mutable globals under globalExportPrefix.
// Everything else an instance has is rebuilt identically from the same
// ModuleConfig: the function table (only set by element segments in the
// modules this is used with), and the WASI preopens, which get the same
// descriptors because they are mounted in the same order. Files the guest
// left open during _initialize would be missing; interpreters close them.

// globalExportPrefix names the exports added for a module's mutable globals.
const globalExportPrefix = "wasgi.global."

// snapshotRestored is the optional export called on an instance started
// from a snapshot, before its first call, to renew what must differ between
// instances (the Python runtime reseeds its random module).
const snapshotRestored = "wasgi_snapshot_restored"

// snapshot is the state of an instance right after _initialize.
type snapshot struct {
	mem     []byte
	globals map[string]uint64 // export name -> value
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
		name := globalExportPrefix + strconv.Itoa(i)
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

// exportGlobals returns wasm with an export added for each mutable global
// the module defines, named globalExportPrefix + "0", "1", … in index
// order. A module it cannot parse, or without an export section, is
// returned unchanged (and then cannot be snapshotted).
func exportGlobals(wasm []byte) []byte {
	out, err := rewriteExports(wasm)
	if err != nil {
		return wasm
	}
	return out
}

// wasm binary section ids and import kinds used below.
const (
	secImport = 2
	secGlobal = 6
	secExport = 7

	kindFunc, kindTable, kindMemory, kindGlobal = 0, 1, 2, 3
)

var errParse = errors.New("wasm: cannot parse")

// reader reads the wasm binary encoding.
type reader struct {
	b   []byte
	err error
}

func (r *reader) byte() byte {
	if r.err != nil || len(r.b) == 0 {
		r.err = errParse
		return 0
	}
	c := r.b[0]
	r.b = r.b[1:]
	return c
}

func (r *reader) u32() uint32 {
	v, n := binary.Uvarint(r.b)
	if n <= 0 || n > 5 || v > 1<<32-1 || r.err != nil {
		r.err = errParse
		return 0
	}
	r.b = r.b[n:]
	return uint32(v)
}

// sleb skips a signed LEB128 of at most n bytes.
func (r *reader) sleb(n int) {
	for i := 0; i < n; i++ {
		if r.byte()&0x80 == 0 {
			return
		}
	}
	r.err = errParse
}

func (r *reader) skip(n uint32) {
	if r.err != nil || uint32(len(r.b)) < n {
		r.err = errParse
		return
	}
	r.b = r.b[n:]
}

func (r *reader) name() string {
	n := r.u32()
	if r.err != nil || uint32(len(r.b)) < n {
		r.err = errParse
		return ""
	}
	s := string(r.b[:n])
	r.b = r.b[n:]
	return s
}

func (r *reader) limits() {
	flags := r.byte()
	r.u32()
	if flags&1 != 0 {
		r.u32()
	}
}

// imports reads an import section: how many functions and globals it
// imports, and whether it imports a memory.
func (r *reader) imports() (funcs, globals uint32, memory bool) {
	for n := r.u32(); n > 0 && r.err == nil; n-- {
		r.name()
		r.name()
		switch r.byte() {
		case kindFunc:
			r.u32()
			funcs++
		case kindTable:
			r.byte()
			r.limits()
		case kindMemory:
			r.limits()
			memory = true
		case kindGlobal:
			r.byte()
			r.byte()
			globals++
		default:
			r.err = errParse
		}
	}
	return funcs, globals, memory
}

// constExpr skips a constant expression up to and including its end.
func (r *reader) constExpr() {
	for r.err == nil {
		switch op := r.byte(); op {
		case 0x0b: // end
			return
		case 0x41: // i32.const
			r.sleb(5)
		case 0x42: // i64.const
			r.sleb(10)
		case 0x43: // f32.const
			r.skip(4)
		case 0x44: // f64.const
			r.skip(8)
		case 0x23, 0xd2: // global.get, ref.func
			r.u32()
		case 0xd0: // ref.null
			r.byte()
		case 0x6a, 0x6b, 0x6c, 0x7c, 0x7d, 0x7e: // extended-const arithmetic
		default:
			r.err = errParse
		}
	}
}

func appendName(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

func rewriteExports(wasm []byte) ([]byte, error) {
	secs, err := splitSections(wasm)
	if err != nil {
		return nil, err
	}

	importedGlobals := uint32(0)
	var mutable []uint32 // indices of the defined mutable globals
	exportAt := -1
	for i, s := range secs {
		r := &reader{b: s.body}
		switch s.id {
		case secImport:
			_, importedGlobals, _ = r.imports()
		case secGlobal:
			n := r.u32()
			for i := uint32(0); i < n && r.err == nil; i++ {
				r.byte() // value type
				if r.byte() == 1 {
					mutable = append(mutable, importedGlobals+i)
				}
				r.constExpr()
			}
		case secExport:
			exportAt = i
			for n := r.u32(); n > 0 && r.err == nil; n-- {
				if strings.HasPrefix(r.name(), globalExportPrefix) {
					return nil, errParse // already rewritten, or a clash
				}
				r.byte()
				r.u32()
			}
		}
		if r.err != nil {
			return nil, r.err
		}
	}
	if exportAt < 0 {
		return nil, errParse
	}
	if len(mutable) == 0 {
		return wasm, nil
	}

	er := &reader{b: secs[exportAt].body}
	count := er.u32()
	body := binary.AppendUvarint(nil, uint64(count)+uint64(len(mutable)))
	body = append(body, er.b...)
	for i, idx := range mutable {
		body = appendName(body, globalExportPrefix+strconv.Itoa(i))
		body = append(body, kindGlobal)
		body = binary.AppendUvarint(body, uint64(idx))
	}
	secs[exportAt].body = body
	return joinSections(wasm[:8], secs), nil
}
