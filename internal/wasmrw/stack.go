package wasmrw

import (
	"bytes"
	"encoding/binary"
)

// Bounding the native stack.
//
// wazero runs each call on a stack of its own, a Go slice that doubles
// whenever a frame does not fit, up to about 100 MiB; memory_limit does not
// count it. A guest recursing with its values in wasm locals (none in
// linear memory) grew it to that size in every instance, and a warm
// instance kept it. So every function is charged an estimate of its frame
// on entry and given it back on every way out, against a budget the host
// sets before each call: a mutable i32 global $stack, exported as
// StackExport. Its entry, after the interrupt check, becomes
//
//	global.get $stack
//	i32.const cost       ;; this function's frame, in bytes (below)
//	i32.sub
//	global.set $stack
//	global.get $stack
//	i32.const 0
//	i32.lt_s
//	if
//	  unreachable        ;; the budget is spent: trap
//	end
//	block (result …)     ;; the function's results
//	  …body…             ;; every return preceded by the refund
//	end
//	global.get $stack    ;; the refund: every branch to the function's
//	i32.const cost       ;; own label lands on it, since the block now
//	i32.add              ;; holds that label
//	global.set $stack
//
// A trap skips the refund, but a trap discards the instance, and the host
// sets $stack again before every call. Host functions never call back into
// the guest, and if one did, the nested call would be charged on top.
//
// The cost estimates what wazero's compiler reserves for the frame, from
// what the function declares: 32 bytes, plus 8 per parameter, result and
// local and per value it can hold on the operand stack at once (16 for a
// v128), plus a quarter of its body's size for the compiler's spills
// (measured on Go and CPython: the largest frames, ~9 KiB, belong to 45-50
// KiB functions). A crafted function can still make wazero reserve more
// than that, since wazero gives every spilled value its own slot (many
// locals merged across many nested loops: 32 of each made 852 bytes of
// code a 5 KiB frame); for such a module wazero's own limit stays the
// bound (docs/SECURITY.md, known gaps).
//
// $yield also records the lowest $stack it sees in StackLowExport, so the
// host learns after a call how deep it went and can drop a stack that grew.

// StackExport and StackLowExport name the globals of the stack budget:
// what is left of it (the host sets the budget before a call), and the
// lowest value $yield saw.
const (
	StackExport    = "wasgi.stack"
	StackLowExport = "wasgi.stack_low"
)

// DefaultStack is the budget $stack starts with, in bytes, until the host
// sets its own.
const DefaultStack = 8 << 20

// maxFrameCost bounds one function's cost, so that sums stay in 32 bits.
const maxFrameCost = 1 << 28

// funcType is a function type: its parameter and result value types.
type funcType struct{ params, results []byte }

// moduleTypes is what the stack estimate needs of a module: its types and
// the type of every function, imported ones first.
type moduleTypes struct {
	types []funcType
	funcs []uint32
}

// valTypes reads a vector of value types.
func (r *reader) valTypes() []byte {
	n := r.u32()
	if r.err != nil || uint32(len(r.b)) < n {
		r.err = ErrParse
		return nil
	}
	start := r.b
	for ; n > 0 && r.err == nil; n-- {
		r.valType()
	}
	return start[:len(start)-len(r.b)]
}

// slots is how many 8-byte slots values of types take.
func slots(types []byte) int {
	n := len(types)
	for _, t := range types {
		if t == 0x7b { // v128
			n++
		}
	}
	return n
}

// stackEnter and stackLeave charge and refund cost on global stack.
func stackEnter(stack uint32, cost int32) []byte {
	b := binary.AppendUvarint([]byte{0x23}, uint64(stack))
	b = appendS32(append(b, 0x41), cost)
	b = binary.AppendUvarint(append(b, 0x6b, 0x24), uint64(stack)) // i32.sub, global.set
	b = binary.AppendUvarint(append(b, 0x23), uint64(stack))       // global.get
	return append(b, 0x41, 0x00, 0x48, 0x04, 0x40, 0x00, 0x0b)     // i32.const 0, i32.lt_s, if unreachable end
}

func stackLeave(stack uint32, cost int32) []byte {
	b := binary.AppendUvarint([]byte{0x23}, uint64(stack))
	b = appendS32(append(b, 0x41), cost)
	return binary.AppendUvarint(append(b, 0x6a, 0x24), uint64(stack)) // i32.add, global.set
}

// recordLow is $yield's code that keeps the lowest $stack in $low.
func recordLow(stack, low uint32) []byte {
	b := binary.AppendUvarint([]byte{0x23}, uint64(stack))
	b = binary.AppendUvarint(append(b, 0x23), uint64(low))
	b = binary.AppendUvarint(append(b, 0x48, 0x04, 0x40, 0x23), uint64(stack)) // i32.lt_s, if, global.get
	b = binary.AppendUvarint(append(b, 0x24), uint64(low))
	return append(b, 0x0b)
}

// typeIndex is the index of the type params -> results, appended to
// *added (encoded, numbered after the module's own) when there is none.
func (m *moduleTypes) typeIndex(params, results []byte, added *[][]byte) uint32 {
	for i, t := range m.types {
		if bytes.Equal(t.params, params) && bytes.Equal(t.results, results) {
			return uint32(i)
		}
	}
	m.types = append(m.types, funcType{params, results})
	enc := binary.AppendUvarint([]byte{0x60}, uint64(len(params)))
	enc = append(enc, params...)
	enc = binary.AppendUvarint(enc, uint64(len(results)))
	*added = append(*added, append(enc, results...))
	return uint32(len(m.types) - 1)
}

// blockTypeOf is the block type of a block with results.
func (m *moduleTypes) blockTypeOf(results []byte, added *[][]byte) []byte {
	switch len(results) {
	case 0:
		return []byte{0x40}
	case 1:
		return results[:1]
	}
	return appendS32(nil, int32(m.typeIndex(nil, results, added)))
}

// funcScan is what instrumentFunc learns of a body before rewriting it.
type funcScan struct {
	start   int   // offset of the first instruction, after the locals
	locals  int   // slots of the declared locals
	inserts []int // offsets: after a loop's block type (a check), or of a return (a refund)
	returns []bool
	height  int  // most values on the operand stack at once
	simd    bool // the body uses v128 instructions
}

// cost is the frame estimate of a function of type ft whose body (b) is s.
func (s *funcScan) cost(ft funcType, size int) int32 {
	stack := s.height
	if s.simd {
		stack *= 2
	}
	c := 32 + 8*(slots(ft.params)+slots(ft.results)+s.locals+stack) + size/4
	return int32(min(c, maxFrameCost))
}

// control is one open block while scanning: the operand stack height
// below it, its parameter and result counts, and whether the rest of it
// is unreachable.
type control struct {
	base, params, results int
	unreachable           bool
}

// scanFunc reads body b of a function of type ft: where checks and
// refunds go, and an upper bound of its operand stack. Every instruction
// is checked to be WebAssembly 2.0 and every block to close, the
// function's own end being b's last byte.
func scanFunc(b []byte, ft funcType, m *moduleTypes) (*funcScan, error) {
	s := &funcScan{}
	r := &reader{b: b}
	var total uint64
	for n := r.u32(); n > 0 && r.err == nil; n-- {
		count := uint64(r.u32())
		t := r.byte()
		switch t {
		case 0x7f, 0x7e, 0x7d, 0x7c, 0x70, 0x6f:
		case 0x7b:
			count *= 2
		default:
			return nil, ErrParse
		}
		if total += count; total > maxFrameCost {
			return nil, ErrParse
		}
	}
	s.locals = int(total)
	s.start = len(b) - len(r.b)
	ctl := []control{{results: len(ft.results)}}
	h := 0
	top := func() *control { return &ctl[len(ctl)-1] }
	pop := func(n int) {
		// In unreachable code the stack is polymorphic: never below the
		// block's base.
		if h -= n; h < top().base {
			h = top().base
		}
	}
	push := func(n int) {
		if h += n; h > s.height {
			s.height = h
		}
	}
	unreachable := func() {
		h = top().base
		top().unreachable = true
	}
	block := func(pops int) {
		params, results := r.blockType(m)
		pop(pops + params)
		ctl = append(ctl, control{base: h, params: params, results: results})
		push(params)
	}
	funcSig := func(t uint32) (int, int) {
		if t >= uint32(len(m.types)) {
			r.err = ErrParse
			return 0, 0
		}
		return len(m.types[t].params), len(m.types[t].results)
	}
	for r.err == nil {
		if len(r.b) == 0 {
			return nil, ErrParse // the function's end is missing
		}
		at := len(b) - len(r.b)
		op := r.byte()
		switch {
		case op == 0x00: // unreachable
			unreachable()
		case op == 0x01: // nop
		case op == 0x02: // block
			block(0)
		case op == 0x03: // loop
			block(0)
			s.inserts, s.returns = append(s.inserts, len(b)-len(r.b)), append(s.returns, false)
		case op == 0x04: // if
			block(1)
		case op == 0x05: // else
			if len(ctl) < 2 {
				return nil, ErrParse
			}
			h = top().base + top().params
			top().unreachable = false
		case op == 0x0b: // end
			c := *top()
			ctl = ctl[:len(ctl)-1]
			h = c.base
			if len(ctl) == 0 {
				if len(r.b) != 0 {
					return nil, ErrParse // code after the function's end
				}
				return s, nil
			}
			push(c.results)
		case op == 0x0c: // br
			r.u32()
			unreachable()
		case op == 0x0d: // br_if
			r.u32()
			pop(1)
		case op == 0x0e: // br_table
			for n := r.u32(); r.err == nil && n > 0; n-- {
				r.u32()
			}
			r.u32()
			pop(1)
			unreachable()
		case op == 0x0f: // return
			s.inserts, s.returns = append(s.inserts, at), append(s.returns, true)
			unreachable()
		case op == 0x10: // call
			f := r.u32()
			if f >= uint32(len(m.funcs)) {
				return nil, ErrParse
			}
			p, res := funcSig(m.funcs[f])
			pop(p)
			push(res)
		case op == 0x11: // call_indirect
			p, res := funcSig(r.u32())
			r.u32()
			pop(1 + p)
			push(res)
		case op == 0x1a: // drop
			pop(1)
		case op == 0x1b: // select
			pop(3)
			push(1)
		case op == 0x1c: // select t*
			for n := r.u32(); r.err == nil && n > 0; n-- {
				r.valType()
			}
			pop(3)
			push(1)
		case op == 0x20, op == 0x23: // local.get, global.get
			r.u32()
			push(1)
		case op == 0x21, op == 0x24: // local.set, global.set
			r.u32()
			pop(1)
		case op == 0x22: // local.tee
			r.u32()
		case op == 0x25: // table.get
			r.u32()
			pop(1)
			push(1)
		case op == 0x26: // table.set
			r.u32()
			pop(2)
		case op >= 0x28 && op <= 0x35: // loads
			r.memArg()
			pop(1)
			push(1)
		case op >= 0x36 && op <= 0x3e: // stores
			r.memArg()
			pop(2)
		case op == 0x3f: // memory.size
			r.u32()
			push(1)
		case op == 0x40: // memory.grow
			r.u32()
		case op >= 0x41 && op <= 0x44: // constants
			switch op {
			case 0x41:
				r.sleb(5)
			case 0x42:
				r.sleb(10)
			case 0x43:
				r.skip(4)
			case 0x44:
				r.skip(8)
			}
			push(1)
		case op >= 0x45 && op <= 0xc4:
			pop(numericPops(op))
			push(1)
		case op == 0xd0: // ref.null
			r.valType()
			push(1)
		case op == 0xd1: // ref.is_null
		case op == 0xd2: // ref.func
			r.u32()
			push(1)
		case op == 0xfc:
			p, res := r.miscImmediates()
			pop(p)
			push(res)
		case op == 0xfd:
			s.simd = true
			p, res := r.vecImmediates()
			pop(p)
			push(res)
		default: // exceptions, tail calls, threads, GC…: not WebAssembly 2.0
			return nil, ErrParse
		}
	}
	return nil, ErrParse
}

// numericPops is how many operands a numeric instruction (0x45-0xc4)
// takes; each gives one result.
func numericPops(op byte) int {
	switch {
	case op == 0x45, op == 0x50, // eqz
		op >= 0x67 && op <= 0x69, op >= 0x79 && op <= 0x7b, // clz, ctz, popcnt
		op >= 0x8b && op <= 0x91, op >= 0x99 && op <= 0x9f, // float unary
		op >= 0xa7: // conversions, sign extensions
		return 1
	}
	return 2
}
