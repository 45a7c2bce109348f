package wasmrw

import (
	"encoding/binary"
	"strings"
)

// Interrupting guest code at request_timeout.
//
// wazero's own way, close-on-context-done, compiles a call into Go at the
// head of every loop: guest code runs 3–9× slower (wazero issue #2466).
// Compile instead rewrites each module so that it stops itself. Three
// things are added: a mutable i32 global $budget, a mutable i32 global
// $interrupt exported as InterruptExport, and a function $yield. Every
// loop head and every function entry then starts with
//
//	global.get $budget
//	i32.const 1
//	i32.sub
//	global.set $budget
//	global.get $budget   ;; the value just set: no second load
//	i32.eqz
//	if
//	  call $yield
//	end
//
// a decrement and a well-predicted branch. Once every YieldEvery checks,
// $yield runs:
//
//	i32.const 0
//	memory.grow 0        ;; a round trip through Go: see below
//	drop
//	i32.const YieldEvery
//	global.set $budget
//	global.get $interrupt
//	if
//	  unreachable
//	end
//
// When a call's deadline passes, the host sets $interrupt and the guest
// traps at its next yield. Function entries are counted too, so a guest
// that recurses without loops (a naive fib) is stopped as well, which
// close-on-context-done does not do.
//
// The memory.grow of zero pages is what makes this safe for the host:
// wazero runs guest machine code where the Go scheduler cannot preempt it,
// so a garbage collection that stops the world waits for every running
// guest to come back to Go. A guest that never did (a loop without host
// calls) would freeze the whole host at its next GC, the goroutine that
// sets $interrupt included. wazero implements memory.grow in Go, so a
// guest now passes through Go every YieldEvery loop iterations or calls.
//
// Only what wazero's default features accept is parsed (WebAssembly 2.0).
// A module with anything else, or without a memory to grow, is compiled as
// it is, with close-on-context-done.

// InterruptExport names the global the host sets to stop a guest.
const InterruptExport = "wasgi.interrupt"

// YieldEvery is the number of loop iterations and calls between two
// yields. A Go guest runs about 30–60 ns per check (the hello guest's
// _initialize: 47,000 checks in 1.5–3 ms), so it passes through Go every
// 30–60 µs: that bounds how long a garbage collection spins waiting to
// suspend it, and how late after its deadline it is stopped. A yield costs
// about a host call (a few hundred ns): under 1% of the guest's time.
const YieldEvery = 1 << 10

// budgetCheck is the code added at each loop head and function entry.
func budgetCheck(budget, yield uint32) []byte {
	b := binary.AppendUvarint([]byte{0x23}, uint64(budget)) // global.get
	b = append(b, 0x41, 0x01, 0x6b, 0x24)                   // i32.const 1, i32.sub, global.set
	b = binary.AppendUvarint(b, uint64(budget))
	b = binary.AppendUvarint(append(b, 0x23), uint64(budget)) // global.get
	b = append(b, 0x45, 0x04, 0x40, 0x10)                     // i32.eqz, if, call
	b = binary.AppendUvarint(b, uint64(yield))
	return append(b, 0x0b) // end
}

// yieldBody is $yield's code section entry (size, no locals, code).
func yieldBody(budget, interrupt uint32) []byte {
	b := []byte{0x00, 0x41, 0x00, 0x40, 0x00, 0x1a, 0x41} // no locals; i32.const 0, memory.grow 0, drop, i32.const
	b = appendS32(b, YieldEvery)
	b = binary.AppendUvarint(append(b, 0x24), uint64(budget))    // global.set
	b = binary.AppendUvarint(append(b, 0x23), uint64(interrupt)) // global.get
	b = append(b, 0x04, 0x40, 0x00, 0x0b, 0x0b)                  // if unreachable end, end
	return append(binary.AppendUvarint(nil, uint64(len(b))), b...)
}

// Section ids, in addition to those of data.go.
const (
	secCustom   = 0
	secType     = 1
	secFunction = 3
	secMemory   = 5
	secCode     = 10
)

// sectionRank is the order known sections must appear in; custom
// sections may appear anywhere.
var sectionRank = map[byte]int{1: 1, 2: 2, 3: 3, 4: 4, 5: 5, 13: 6, 6: 7, 7: 8, 8: 9, 9: 10, 12: 11, 10: 12, 11: 13}

// insertSection puts s before the first known section that must follow it.
func insertSection(secs []section, s section) []section {
	for i, o := range secs {
		if o.id != secCustom && sectionRank[o.id] > sectionRank[s.id] {
			return append(secs[:i], append([]section{s}, secs[i:]...)...)
		}
	}
	return append(secs, s)
}

// appendToVector returns the body of a vector section with item added at
// its end (a new slice: section bodies alias the module's bytes).
func appendToVector(body, item []byte) []byte {
	r := &reader{b: body}
	n := r.u32()
	out := binary.AppendUvarint(nil, uint64(n)+1)
	out = append(out, r.b...)
	return append(out, item...)
}

// Version names the output of the rewrites as the sandbox caches it
// (Instrument, then ExportGlobals, after CoalesceData): change it whenever a
// rewrite changes what it writes (TestRewriteVersion fails until then), so
// that modules rewritten by an earlier wasgi are not taken from the cache.
const Version = "r1"

// Instrument returns wasm with the interrupt machinery above, or ErrParse
// when it cannot be sure of the result. Custom sections holding DWARF are
// dropped: they address code by offsets the rewrite moves (wazero would
// print wrong source lines in traps).
func Instrument(wasm []byte) ([]byte, error) {
	secs, err := splitSections(wasm)
	if err != nil {
		return nil, err
	}
	var importedFuncs, importedGlobals, definedFuncs, definedGlobals uint32
	hasMemory := false
	voidType := int64(-1) // index of a () -> () type
	var types uint32
	typeAt, funcAt, codeAt := -1, -1, -1
	for i, s := range secs {
		r := &reader{b: s.body}
		switch s.id {
		case secType:
			typeAt = i
			types = r.u32()
			for t := uint32(0); t < types && r.err == nil; t++ {
				if r.byte() != 0x60 {
					r.err = ErrParse
				}
				params, results := r.u32(), uint32(0)
				for k := params; k > 0 && r.err == nil; k-- {
					r.valType()
				}
				results = r.u32()
				for k := results; k > 0 && r.err == nil; k-- {
					r.valType()
				}
				if params == 0 && results == 0 && voidType < 0 {
					voidType = int64(t)
				}
			}
		case secImport:
			var mem bool
			importedFuncs, importedGlobals, mem = r.imports()
			hasMemory = hasMemory || mem
		case secFunction:
			funcAt = i
			definedFuncs = r.u32()
		case secMemory:
			hasMemory = hasMemory || r.u32() > 0
		case secGlobal:
			definedGlobals = r.u32()
		case secExport:
			for n := r.u32(); n > 0 && r.err == nil; n-- {
				if r.name() == InterruptExport {
					return nil, ErrParse // already instrumented
				}
				if r.byte() > kindGlobal {
					return nil, ErrParse
				}
				r.u32()
			}
		case secCode:
			codeAt = i
			if r.u32() != definedFuncs {
				return nil, ErrParse
			}
		}
		if r.err != nil {
			return nil, r.err
		}
	}
	if codeAt < 0 || funcAt < 0 || !hasMemory {
		return nil, ErrParse // nothing to interrupt, or no memory.grow to yield with
	}
	budget := importedGlobals + definedGlobals
	interrupt := budget + 1
	yield := importedFuncs + definedFuncs
	code, err := instrumentCode(secs[codeAt].body, budgetCheck(budget, yield))
	if err != nil {
		return nil, err
	}
	secs[codeAt].body = appendToVector(code, yieldBody(budget, interrupt))

	if voidType < 0 {
		voidType = int64(types)
		if typeAt >= 0 {
			secs[typeAt].body = appendToVector(secs[typeAt].body, []byte{0x60, 0, 0})
		} else {
			secs = insertSection(secs, section{secType, []byte{1, 0x60, 0, 0}})
		}
	}
	for i := range secs { // indices move as sections are inserted
		if secs[i].id == secFunction {
			secs[i].body = appendToVector(secs[i].body, binary.AppendUvarint(nil, uint64(voidType)))
		}
	}

	globals := []byte{0x7f, 0x01, 0x41} // mut i32 = YieldEvery
	globals = appendS32(globals, YieldEvery)
	globals = append(globals, 0x0b, 0x7f, 0x01, 0x41, 0x00, 0x0b) // mut i32 = 0
	if at := sectionIndex(secs, secGlobal); at >= 0 {
		r := &reader{b: secs[at].body}
		n := r.u32()
		body := binary.AppendUvarint(nil, uint64(n)+2)
		body = append(body, r.b...)
		secs[at].body = append(body, globals...)
	} else {
		secs = insertSection(secs, section{secGlobal, append([]byte{2}, globals...)})
	}

	export := appendName(nil, InterruptExport)
	export = append(export, kindGlobal)
	export = binary.AppendUvarint(export, uint64(interrupt))
	if at := sectionIndex(secs, secExport); at >= 0 {
		secs[at].body = appendToVector(secs[at].body, export)
	} else {
		secs = insertSection(secs, section{secExport, append([]byte{1}, export...)})
	}

	kept := secs[:0]
	for _, s := range secs {
		if s.id == secCustom {
			r := &reader{b: s.body}
			if name := r.name(); r.err == nil && strings.HasPrefix(name, ".debug_") {
				continue
			}
		}
		kept = append(kept, s)
	}
	return joinSections(wasm[:8], kept), nil
}

// sectionIndex is the index in secs of the section with id, or -1.
func sectionIndex(secs []section, id byte) int {
	for i, s := range secs {
		if s.id == id {
			return i
		}
	}
	return -1
}

// instrumentCode rewrites a code section's function bodies.
func instrumentCode(body, check []byte) ([]byte, error) {
	r := &reader{b: body}
	n := r.u32()
	out := make([]byte, 0, len(body)+len(body)/8)
	out = binary.AppendUvarint(out, uint64(n))
	var fn []byte
	for ; n > 0 && r.err == nil; n-- {
		size := r.u32()
		if r.err != nil || uint32(len(r.b)) < size {
			return nil, ErrParse
		}
		var err error
		if fn, err = instrumentFunc(fn[:0], r.b[:size], check); err != nil {
			return nil, err
		}
		r.b = r.b[size:]
		out = binary.AppendUvarint(out, uint64(len(fn)))
		out = append(out, fn...)
	}
	if r.err != nil || len(r.b) != 0 {
		return nil, ErrParse
	}
	return out, nil
}

// instrumentFunc appends to out the function body b with check at its
// entry and after every loop instruction.
func instrumentFunc(out, b, check []byte) ([]byte, error) {
	r := &reader{b: b}
	for n := r.u32(); n > 0 && r.err == nil; n-- {
		r.u32()
		r.valType()
	}
	last := len(b) - len(r.b)
	out = append(out, b[:last]...)
	out = append(out, check...)
	for len(r.b) > 0 && r.err == nil {
		op := r.byte()
		switch {
		case op == 0x02 || op == 0x04: // block, if
			r.blockType()
		case op == 0x03: // loop
			r.blockType()
			at := len(b) - len(r.b)
			out = append(out, b[last:at]...)
			out = append(out, check...)
			last = at
		case op <= 0x01, op == 0x05, op == 0x0b, op == 0x0f, op == 0x1a, op == 0x1b,
			op >= 0x45 && op <= 0xc4, op == 0xd1:
			// no immediates
		case op == 0x0c, op == 0x0d, op == 0x10, op >= 0x20 && op <= 0x26, op == 0xd2,
			op == 0x3f, op == 0x40:
			r.u32()
		case op == 0x0e: // br_table
			for n := r.u32(); r.err == nil && n > 0; n-- {
				r.u32()
			}
			r.u32()
		case op == 0x11: // call_indirect
			r.u32()
			r.u32()
		case op == 0x1c: // select t*
			for n := r.u32(); r.err == nil && n > 0; n-- {
				r.valType()
			}
		case op >= 0x28 && op <= 0x3e:
			r.memArg()
		case op == 0x41:
			r.sleb(5)
		case op == 0x42:
			r.sleb(10)
		case op == 0x43:
			r.skip(4)
		case op == 0x44:
			r.skip(8)
		case op == 0xd0: // ref.null
			r.valType()
		case op == 0xfc:
			r.miscImmediates()
		case op == 0xfd:
			r.vecImmediates()
		default: // exceptions, tail calls, threads, GC…: not WebAssembly 2.0
			return nil, ErrParse
		}
	}
	if r.err != nil {
		return nil, ErrParse
	}
	return append(out, b[last:]...), nil
}

// valType reads a value type of WebAssembly 2.0.
func (r *reader) valType() {
	switch r.byte() {
	case 0x7f, 0x7e, 0x7d, 0x7c, 0x7b, 0x70, 0x6f:
	default:
		r.err = ErrParse
	}
}

// blockType reads a block type: empty, one value type, or a type index.
func (r *reader) blockType() {
	if len(r.b) > 0 {
		switch r.b[0] {
		case 0x40, 0x7f, 0x7e, 0x7d, 0x7c, 0x7b, 0x70, 0x6f:
			r.b = r.b[1:]
			return
		}
	}
	r.s33()
}

// s33 reads a signed 33-bit LEB128 (a type index in a block type).
func (r *reader) s33() {
	for i := 0; i < 5; i++ {
		c := r.byte()
		if r.err != nil {
			return
		}
		if c&0x80 == 0 {
			if c&0x40 != 0 { // negative: only the one-byte forms above are valid
				r.err = ErrParse
			}
			return
		}
	}
	r.err = ErrParse
}

// memArg reads a memory access's alignment and offset (one memory, 32-bit).
func (r *reader) memArg() {
	if align := r.u32(); align >= 1<<6 {
		r.err = ErrParse // multi-memory
	}
	r.u32()
}

// miscImmediates reads the immediates of a 0xfc instruction.
func (r *reader) miscImmediates() {
	switch op := r.u32(); {
	case op <= 7: // saturating truncations
	case op == 8, op == 10, op == 12, op == 14: // memory.init, memory.copy, table.init, table.copy
		r.u32()
		r.u32()
	case op <= 17: // data.drop, memory.fill, elem.drop, table.grow/size/fill
		r.u32()
	default:
		r.err = ErrParse
	}
}

// vecImmediates reads the immediates of a 0xfd (SIMD) instruction.
func (r *reader) vecImmediates() {
	switch op := r.u32(); {
	case op <= 11, op == 92, op == 93: // loads and stores
		r.memArg()
	case op == 12, op == 13: // v128.const, i8x16.shuffle
		r.skip(16)
	case op >= 21 && op <= 34: // extract and replace lane
		r.byte()
	case op >= 84 && op <= 91: // load and store lane
		r.memArg()
		r.byte()
	case op <= 255:
	default: // relaxed SIMD and beyond
		r.err = ErrParse
	}
}
