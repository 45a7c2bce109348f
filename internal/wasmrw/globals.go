package wasmrw

import (
	"encoding/binary"
	"errors"
	"strconv"
	"strings"
)

// GlobalExportPrefix names the exports ExportGlobals adds for a module's
// mutable globals: GlobalExportPrefix + "0", "1", … in index order.
const GlobalExportPrefix = "wasgi.global."

// ExportGlobals returns wasm with an export added for each mutable global
// the module defines, named GlobalExportPrefix + "0", "1", … in index
// order. A module it cannot parse, or without an export section, is
// returned unchanged (and then cannot be snapshotted).
func ExportGlobals(wasm []byte) []byte {
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

var ErrParse = errors.New("wasm: cannot parse")

// reader reads the wasm binary encoding.
type reader struct {
	b   []byte
	err error
}

func (r *reader) byte() byte {
	if r.err != nil || len(r.b) == 0 {
		r.err = ErrParse
		return 0
	}
	c := r.b[0]
	r.b = r.b[1:]
	return c
}

func (r *reader) u32() uint32 {
	v, n := binary.Uvarint(r.b)
	if n <= 0 || n > 5 || v > 1<<32-1 || r.err != nil {
		r.err = ErrParse
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
	r.err = ErrParse
}

func (r *reader) skip(n uint32) {
	if r.err != nil || uint32(len(r.b)) < n {
		r.err = ErrParse
		return
	}
	r.b = r.b[n:]
}

func (r *reader) name() string {
	n := r.u32()
	if r.err != nil || uint32(len(r.b)) < n {
		r.err = ErrParse
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

// imports reads an import section: the type of each function it imports,
// how many globals it imports, and whether it imports a memory.
func (r *reader) imports() (funcs []uint32, globals uint32, memory bool) {
	for n := r.u32(); n > 0 && r.err == nil; n-- {
		r.name()
		r.name()
		switch r.byte() {
		case kindFunc:
			funcs = append(funcs, r.u32())
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
			r.err = ErrParse
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
			r.err = ErrParse
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
				if strings.HasPrefix(r.name(), GlobalExportPrefix) {
					return nil, ErrParse // already rewritten, or a clash
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
		return nil, ErrParse
	}
	if len(mutable) == 0 {
		return wasm, nil
	}

	er := &reader{b: secs[exportAt].body}
	count := er.u32()
	body := binary.AppendUvarint(nil, uint64(count)+uint64(len(mutable)))
	body = append(body, er.b...)
	for i, idx := range mutable {
		body = appendName(body, GlobalExportPrefix+strconv.Itoa(i))
		body = append(body, kindGlobal)
		body = binary.AppendUvarint(body, uint64(idx))
	}
	secs[exportAt].body = body
	return joinSections(wasm[:8], secs), nil
}
