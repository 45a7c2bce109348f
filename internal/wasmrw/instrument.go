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
// A module without a memory gets an empty one for $yield to grow, which
// none of its instructions can name. Only what wazero's default features
// accept is parsed (WebAssembly 2.0); a module with anything else is
// compiled as it is, with close-on-context-done.
//
// The same rewrite bounds the native stack of each call (stack.go).

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
func yieldBody(g instrumentGlobals) []byte {
	b := []byte{0x00, 0x41, 0x00, 0x40, 0x00, 0x1a, 0x41} // no locals; i32.const 0, memory.grow 0, drop, i32.const
	b = appendS32(b, YieldEvery)
	b = binary.AppendUvarint(append(b, 0x24), uint64(g.budget)) // global.set
	b = append(b, recordLow(g.stack, g.low)...)
	b = binary.AppendUvarint(append(b, 0x23), uint64(g.interrupt)) // global.get
	b = append(b, 0x04, 0x40, 0x00, 0x0b, 0x0b)                    // if unreachable end, end
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
const Version = "r2"

// Instrument returns wasm with the interrupt machinery above and the
// stack budget of stack.go, or ErrParse when it cannot be sure of the
// result. Custom sections holding DWARF are dropped: they address code by
// offsets the rewrite moves (wazero would print wrong source lines in
// traps).
func Instrument(wasm []byte) ([]byte, error) {
	secs, err := splitSections(wasm)
	if err != nil {
		return nil, err
	}
	var importedGlobals, definedFuncs, definedGlobals uint32
	var m moduleTypes
	hasMemory := false
	typeAt, funcAt, codeAt, memAt := -1, -1, -1, -1
	for i, s := range secs {
		r := &reader{b: s.body}
		switch s.id {
		case secType:
			typeAt = i
			for n := r.u32(); n > 0 && r.err == nil; n-- {
				if r.byte() != 0x60 {
					r.err = ErrParse
				}
				params := r.valTypes()
				m.types = append(m.types, funcType{params, r.valTypes()})
			}
		case secImport:
			var mem bool
			m.funcs, importedGlobals, mem = r.imports()
			hasMemory = hasMemory || mem
		case secFunction:
			funcAt = i
			definedFuncs = r.u32()
			for n := definedFuncs; n > 0 && r.err == nil; n-- {
				m.funcs = append(m.funcs, r.u32())
			}
		case secMemory:
			memAt = i
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
	if codeAt < 0 || funcAt < 0 || uint32(len(m.funcs)) < definedFuncs {
		return nil, ErrParse // nothing to interrupt
	}
	for _, t := range m.funcs {
		if t >= uint32(len(m.types)) {
			return nil, ErrParse
		}
	}
	g := instrumentGlobals{budget: importedGlobals + definedGlobals}
	g.interrupt, g.stack, g.low = g.budget+1, g.budget+2, g.budget+3
	g.yield = uint32(len(m.funcs))
	var added [][]byte // types the rewrite needs and the module lacks
	code, err := instrumentCode(secs[codeAt].body, g, &m, &added)
	if err != nil {
		return nil, err
	}
	secs[codeAt].body = appendToVector(code, yieldBody(g))
	if !hasMemory {
		// $yield's memory.grow needs one: an empty memory, which no
		// instruction of the module can name. A memory section that
		// declares none gets it (a second section would be invalid).
		mem := section{secMemory, []byte{1, 0x01, 0, 0}}
		if memAt >= 0 {
			secs[memAt] = mem
		} else {
			secs = insertSection(secs, mem)
		}
	}

	voidType := m.typeIndex(nil, nil, &added)
	if len(added) > 0 {
		if typeAt < 0 {
			secs = insertSection(secs, section{secType, []byte{0}})
		}
		at := sectionIndex(secs, secType)
		for _, t := range added {
			secs[at].body = appendToVector(secs[at].body, t)
		}
	}
	for i := range secs { // indices move as sections are inserted
		if secs[i].id == secFunction {
			secs[i].body = appendToVector(secs[i].body, binary.AppendUvarint(nil, uint64(voidType)))
		}
	}

	globals := []byte{0x7f, 0x01, 0x41} // $budget: mut i32 = YieldEvery
	globals = appendS32(globals, YieldEvery)
	globals = append(globals, 0x0b, 0x7f, 0x01, 0x41, 0x00, 0x0b) // $interrupt: mut i32 = 0
	for range 2 {                                                 // $stack, $low: mut i32 = DefaultStack
		globals = appendS32(append(globals, 0x7f, 0x01, 0x41), DefaultStack)
		globals = append(globals, 0x0b)
	}
	if at := sectionIndex(secs, secGlobal); at >= 0 {
		r := &reader{b: secs[at].body}
		n := r.u32()
		body := binary.AppendUvarint(nil, uint64(n)+4)
		body = append(body, r.b...)
		secs[at].body = append(body, globals...)
	} else {
		secs = insertSection(secs, section{secGlobal, append([]byte{4}, globals...)})
	}

	if at := sectionIndex(secs, secExport); at < 0 {
		secs = insertSection(secs, section{secExport, []byte{0}})
	}
	at := sectionIndex(secs, secExport)
	for _, e := range []struct {
		name  string
		index uint32
	}{{InterruptExport, g.interrupt}, {StackExport, g.stack}, {StackLowExport, g.low}} {
		export := append(appendName(nil, e.name), kindGlobal)
		secs[at].body = appendToVector(secs[at].body, binary.AppendUvarint(export, uint64(e.index)))
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

// instrumentGlobals are the indices of what Instrument adds.
type instrumentGlobals struct {
	budget, interrupt, stack, low uint32 // globals
	yield                         uint32 // function
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
func instrumentCode(body []byte, g instrumentGlobals, m *moduleTypes, added *[][]byte) ([]byte, error) {
	r := &reader{b: body}
	n := r.u32()
	out := make([]byte, 0, len(body)+len(body)/4)
	out = binary.AppendUvarint(out, uint64(n))
	imported := uint32(len(m.funcs)) - n
	check := budgetCheck(g.budget, g.yield)
	var fn []byte
	for i := uint32(0); i < n && r.err == nil; i++ {
		size := r.u32()
		if r.err != nil || uint32(len(r.b)) < size {
			return nil, ErrParse
		}
		ft := m.types[m.funcs[imported+i]]
		s, err := scanFunc(r.b[:size], ft, m)
		if err != nil {
			return nil, err
		}
		fn = instrumentFunc(fn[:0], r.b[:size], s, check, g.stack, s.cost(ft, int(size)), m.blockTypeOf(ft.results, added))
		r.b = r.b[size:]
		out = binary.AppendUvarint(out, uint64(len(fn)))
		out = append(out, fn...)
	}
	if r.err != nil || len(r.b) != 0 {
		return nil, ErrParse
	}
	return out, nil
}

// instrumentFunc appends to out the function body b, scanned as s: the
// interrupt check at its entry and after every loop instruction, the
// stack charge at its entry, the body in a block of the function's
// results (bt), and a refund before every return and at the end.
func instrumentFunc(out, b []byte, s *funcScan, check []byte, stack uint32, cost int32, bt []byte) []byte {
	leave := stackLeave(stack, cost)
	out = append(out, b[:s.start]...)
	out = append(out, check...)
	out = append(out, stackEnter(stack, cost)...)
	out = append(append(out, 0x02), bt...)
	last := s.start
	for i, at := range s.inserts {
		out = append(out, b[last:at]...)
		if s.returns[i] {
			out = append(out, leave...)
		} else {
			out = append(out, check...)
		}
		last = at
	}
	out = append(out, b[last:len(b)-1]...) // the function's own end follows the refund
	out = append(out, 0x0b)
	out = append(out, leave...)
	return append(out, 0x0b)
}

// valType reads a value type of WebAssembly 2.0.
func (r *reader) valType() {
	switch r.byte() {
	case 0x7f, 0x7e, 0x7d, 0x7c, 0x7b, 0x70, 0x6f:
	default:
		r.err = ErrParse
	}
}

// blockType reads a block type, empty, one value type, or a type index
// of m, and returns its parameter and result counts.
func (r *reader) blockType(m *moduleTypes) (params, results int) {
	if len(r.b) > 0 {
		switch r.b[0] {
		case 0x40:
			r.b = r.b[1:]
			return 0, 0
		case 0x7f, 0x7e, 0x7d, 0x7c, 0x7b, 0x70, 0x6f:
			r.b = r.b[1:]
			return 0, 1
		}
	}
	t := r.s33()
	if r.err != nil || t >= uint64(len(m.types)) {
		r.err = ErrParse
		return 0, 0
	}
	return len(m.types[t].params), len(m.types[t].results)
}

// s33 reads a signed 33-bit LEB128 (a type index in a block type).
func (r *reader) s33() uint64 {
	var v uint64
	for i := 0; i < 5; i++ {
		c := r.byte()
		if r.err != nil {
			return 0
		}
		v |= uint64(c&0x7f) << (7 * i)
		if c&0x80 == 0 {
			if c&0x40 != 0 { // negative: only the one-byte forms above are valid
				r.err = ErrParse
			}
			return v
		}
	}
	r.err = ErrParse
	return 0
}

// memArg reads a memory access's alignment and offset (one memory, 32-bit).
func (r *reader) memArg() {
	if align := r.u32(); align >= 1<<6 {
		r.err = ErrParse // multi-memory
	}
	r.u32()
}

// miscImmediates reads the immediates of a 0xfc instruction, and returns
// how many operands it takes and results it gives.
func (r *reader) miscImmediates() (pops, pushes int) {
	switch op := r.u32(); {
	case op <= 7: // saturating truncations
		return 1, 1
	case op == 8, op == 10, op == 12, op == 14: // memory.init, memory.copy, table.init, table.copy
		r.u32()
		r.u32()
		return 3, 0
	case op == 9, op == 13: // data.drop, elem.drop
		r.u32()
		return 0, 0
	case op == 11, op == 17: // memory.fill, table.fill
		r.u32()
		return 3, 0
	case op == 15: // table.grow
		r.u32()
		return 2, 1
	case op == 16: // table.size
		r.u32()
		return 0, 1
	}
	r.err = ErrParse
	return 0, 0
}

// vecImmediates reads the immediates of a 0xfd (SIMD) instruction, and
// returns at most how many operands it takes (at least as many as it
// pops) and how many results it gives.
func (r *reader) vecImmediates() (pops, pushes int) {
	switch op := r.u32(); {
	case op == 11: // v128.store
		r.memArg()
		return 2, 0
	case op <= 10, op == 92, op == 93: // loads
		r.memArg()
		return 1, 1
	case op == 12: // v128.const
		r.skip(16)
		return 0, 1
	case op == 13: // i8x16.shuffle
		r.skip(16)
		return 2, 1
	case op >= 21 && op <= 34: // extract lane (one operand), replace lane (two)
		r.byte()
		if op == 23 || op == 26 || op == 28 || op == 30 || op == 32 || op == 34 {
			return 2, 1
		}
		return 1, 1
	case op >= 84 && op <= 87: // load lane
		r.memArg()
		r.byte()
		return 2, 1
	case op >= 88 && op <= 91: // store lane
		r.memArg()
		r.byte()
		return 2, 0
	case op == 14, op >= 35 && op <= 76, op >= 78 && op <= 81: // swizzle, comparisons, and, andnot, or, xor
		return 2, 1
	case op == 82: // bitselect
		return 3, 1
	case op <= 255: // the rest take at least one operand and give one result
		return 1, 1
	}
	r.err = ErrParse // relaxed SIMD and beyond
	return 0, 0
}
