package wasmrw

import (
	"bytes"
	"encoding/binary"
	"slices"
)

// Data segment coalescing.
//
// Go's linker emits one data segment per run of non-zero bytes: the hello
// example has 54,230 of them for 1.5 MB of data, most 18 bytes apart.
// wazero evaluates each segment's offset expression, with allocations, at
// every instantiation, which made that half of a new instance's cost.
// Compile therefore merges segments whose gap is at most maxDataGap
// bytes, filling the gap with the zeros linear memory starts with (7
// segments and 1 MB more data for the hello example). Memory after
// instantiation is the same byte for byte; only modules where that is
// plain are rewritten: active segments of memory 0 at constant offsets,
// none overlapping, and no data count section (memory.init and data.drop
// name segments by index).

// maxDataGap is the largest gap between two segments filled with zeros.
const maxDataGap = 256

// Section ids used below.
const (
	secData      = 11
	secDataCount = 12
)

// section is one section of a wasm binary: its id and body.
type section struct {
	id   byte
	body []byte
}

// splitSections splits a wasm binary into its sections.
func splitSections(wasm []byte) ([]section, error) {
	if len(wasm) < 8 || !bytes.Equal(wasm[:4], []byte("\x00asm")) {
		return nil, ErrParse
	}
	var secs []section
	r := &reader{b: wasm[8:]}
	for len(r.b) > 0 && r.err == nil {
		id := r.byte()
		n := r.u32()
		if r.err != nil || uint32(len(r.b)) < n {
			return nil, ErrParse
		}
		secs = append(secs, section{id, r.b[:n]})
		r.b = r.b[n:]
	}
	return secs, r.err
}

// joinSections is the wasm binary with header (magic and version) and secs.
func joinSections(header []byte, secs []section) []byte {
	size := len(header)
	for _, s := range secs {
		size += 6 + len(s.body)
	}
	out := make([]byte, 0, size)
	out = append(out, header...)
	for _, s := range secs {
		out = append(out, s.id)
		out = binary.AppendUvarint(out, uint64(len(s.body)))
		out = append(out, s.body...)
	}
	return out
}

// s32 reads a signed LEB128 32-bit integer.
func (r *reader) s32() int32 {
	var v int64
	for shift := 0; shift < 35; shift += 7 {
		c := r.byte()
		v |= int64(c&0x7f) << shift
		if c&0x80 == 0 {
			if shift < 28 && c&0x40 != 0 {
				v |= -1 << (shift + 7)
			}
			return int32(v)
		}
	}
	r.err = ErrParse
	return 0
}

// CoalesceData returns wasm with its data segments merged, or wasm itself
// when it cannot tell the result would be the same memory.
func CoalesceData(wasm []byte) []byte {
	secs, err := splitSections(wasm)
	if err != nil {
		return wasm
	}
	at := -1
	for i, s := range secs {
		switch s.id {
		case secDataCount:
			return wasm
		case secData:
			at = i
		}
	}
	if at < 0 {
		return wasm
	}
	type segment struct {
		off   uint32
		data  []byte
		owned bool // data is a copy, not a slice of wasm
	}
	r := &reader{b: secs[at].body}
	n := r.u32()
	if r.err != nil || n > uint32(len(r.b)/5) { // a segment takes 5 bytes at least
		return wasm
	}
	segs := make([]segment, n)
	for i := range segs {
		if r.u32() != 0 || r.byte() != 0x41 { // active, memory 0, i32.const
			return wasm
		}
		off := uint32(r.s32())
		if r.byte() != 0x0b { // end: nothing but the constant
			return wasm
		}
		n := r.u32()
		if r.err != nil || uint32(len(r.b)) < n {
			return wasm
		}
		segs[i] = segment{off: off, data: r.b[:n]}
		r.b = r.b[n:]
	}
	if r.err != nil || len(r.b) > 0 || len(segs) < 2 {
		return wasm
	}
	slices.SortStableFunc(segs, func(a, b segment) int {
		return int(int64(a.off) - int64(b.off))
	})
	var merged []segment
	for _, s := range segs {
		if len(merged) == 0 {
			merged = append(merged, s)
			continue
		}
		last := &merged[len(merged)-1]
		end := uint64(last.off) + uint64(len(last.data))
		switch {
		case uint64(s.off) < end:
			return wasm // overlapping: the order of segments matters
		case uint64(s.off)-end <= maxDataGap:
			if !last.owned { // never append into the original module's bytes
				last.data, last.owned = bytes.Clone(last.data), true
			}
			last.data = append(last.data, make([]byte, uint64(s.off)-end)...)
			last.data = append(last.data, s.data...)
		default:
			merged = append(merged, s)
		}
	}
	body := binary.AppendUvarint(nil, uint64(len(merged)))
	for _, s := range merged {
		body = append(body, 0, 0x41)
		body = appendS32(body, int32(s.off))
		body = append(body, 0x0b)
		body = binary.AppendUvarint(body, uint64(len(s.data)))
		body = append(body, s.data...)
	}
	secs[at].body = body
	return joinSections(wasm[:8], secs)
}

// appendS32 appends v as a signed LEB128.
func appendS32(b []byte, v int32) []byte {
	for {
		c := byte(v & 0x7f)
		v >>= 7
		if v == 0 && c&0x40 == 0 || v == -1 && c&0x40 != 0 {
			return append(b, c)
		}
		b = append(b, c|0x80)
	}
}
