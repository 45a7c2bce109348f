package wasmrw

import (
	"context"
	"encoding/binary"
	"strings"
	"testing"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
)

// section encodes one section of a module.
func encodeSection(id byte, body string) string {
	return string(append(binary.AppendUvarint([]byte{id}, uint64(len(body))), body...))
}

// codeEntry encodes a function body without locals.
func codeEntry(code string) string {
	return string(binary.AppendUvarint(nil, uint64(len(code)+1))) + "\x00" + code
}

// leaving is a module whose recursive functions leave in every way a
// function can: "ret" by return (n -> n), "br" by br_if to its own label
// (n -> n), "table" by br_table to it (n -> n+7), and "multi" through a
// function of two results, left by return and by its end (n -> 3n).
var leaving = leavingModule(true)

// leavingModule is leaving, with or without a memory.
func leavingModule(memory bool) []byte {
	mem := ""
	if memory {
		mem = encodeSection(5, "\x01\x00\x01")
	}
	return []byte("\x00asm\x01\x00\x00\x00" +
		encodeSection(1, "\x02\x60\x01\x7f\x01\x7f\x60\x01\x7f\x02\x7f\x7f") + // (i32) -> i32, (i32) -> (i32, i32)
		encodeSection(3, "\x05\x00\x00\x00\x01\x00") +
		mem +
		encodeSection(7, "\x04\x03ret\x00\x00\x02br\x00\x01\x05table\x00\x02\x05multi\x00\x04") +
		encodeSection(10, "\x05"+
			// ret: if n == 0 return 0 end; ret(n-1) + 1
			codeEntry("\x20\x00\x45\x04\x40\x41\x00\x0f\x0b\x20\x00\x41\x01\x6b\x10\x00\x41\x01\x6a\x0b")+
			// br: 0; br_if 0 (n == 0); drop; br(n-1) + 1
			codeEntry("\x41\x00\x20\x00\x45\x0d\x00\x1a\x20\x00\x41\x01\x6b\x10\x01\x41\x01\x6a\x0b")+
			// table: block (result i32) 7; br_table [1] 0 on n end; drop; table(n-1) + 1
			codeEntry("\x02\x7f\x41\x07\x20\x00\x0e\x01\x01\x00\x0b\x1a\x20\x00\x41\x01\x6b\x10\x02\x41\x01\x6a\x0b")+
			// pair: if n == 0 return (0, 0) end; (a, b) = pair(n-1); (a+1, b+2)
			codeEntry("\x20\x00\x45\x04\x40\x41\x00\x41\x00\x0f\x0b\x20\x00\x41\x01\x6b\x10\x03\x41\x02\x6a\x21\x00\x41\x01\x6a\x20\x00\x0b")+
			// multi: a + b of pair(n)
			codeEntry("\x20\x00\x10\x03\x6a\x0b")))
}

// TestStackBudget: every way out of a function gives its charge back, so
// the budget is whole again after any call; a recursion deeper than the
// budget traps at it, long before wazero's own stack limit, and leaves the
// budget spent (how the host tells it from other traps); $yield records
// the low-water mark.
func TestStackBudget(t *testing.T) {
	ctx := context.Background()
	out, err := Instrument(leaving)
	if err != nil {
		t.Fatal(err)
	}
	r := wazero.NewRuntime(ctx)
	defer r.Close(ctx)
	mod, err := r.Instantiate(ctx, out)
	if err != nil {
		t.Fatal(err)
	}
	stack := mod.ExportedGlobal(StackExport).(api.MutableGlobal)
	low := mod.ExportedGlobal(StackLowExport).(api.MutableGlobal)
	if stack.Get() != DefaultStack || low.Get() != DefaultStack {
		t.Fatalf("budget starts at %d (low %d), want %d", stack.Get(), low.Get(), DefaultStack)
	}
	for _, c := range []struct {
		export string
		want   func(n uint64) uint64
	}{
		{"ret", func(n uint64) uint64 { return n }},
		{"br", func(n uint64) uint64 { return n }},
		{"table", func(n uint64) uint64 { return n + 7 }},
		{"multi", func(n uint64) uint64 { return 3 * n }},
	} {
		for _, n := range []uint64{0, 1, 5, 3000} {
			res, err := mod.ExportedFunction(c.export).Call(ctx, n)
			if err != nil {
				t.Fatalf("%s(%d): %v", c.export, n, err)
			}
			if res[0] != c.want(n) {
				t.Errorf("%s(%d) = %d, want %d", c.export, n, res[0], c.want(n))
			}
			if stack.Get() != DefaultStack {
				t.Fatalf("%s(%d) left the budget at %d, want %d", c.export, n, stack.Get(), DefaultStack)
			}
		}
	}
	if used := DefaultStack - low.Get(); used == 0 || used > 3000*1024 {
		t.Errorf("low-water mark after recursions 3,000 deep: %d bytes used", used)
	}
	t.Logf("3,000 calls deep: %d bytes charged", DefaultStack-low.Get())

	stack.Set(4096)
	if _, err := mod.ExportedFunction("ret").Call(ctx, 1000); err == nil || !strings.Contains(err.Error(), "unreachable") {
		t.Fatalf("1,000 calls on a 4 KiB budget: %v, want a trap", err)
	}
	if int32(stack.Get()) >= 0 {
		t.Fatalf("budget after its trap: %d, want below 0", int32(stack.Get()))
	}
	mod.Close(ctx)

	mod, err = r.Instantiate(ctx, out)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := mod.ExportedFunction("ret").Call(ctx, 1<<30); err == nil || !strings.Contains(err.Error(), "unreachable") {
		t.Fatalf("2^30 calls deep on the default budget: %v, want its trap (not wazero's stack overflow)", err)
	}

	// Without a memory of its own, the module gets an empty one for its
	// yields, and the same budget.
	out, err = Instrument(leavingModule(false))
	if err != nil {
		t.Fatalf("a module without memory: %v", err)
	}
	if mod, err = r.Instantiate(ctx, out); err != nil {
		t.Fatal(err)
	}
	if res, err := mod.ExportedFunction("table").Call(ctx, 3000); err != nil || res[0] != 3007 {
		t.Fatalf("table(3000) without memory: %v %v", res, err)
	}
	if _, err := mod.ExportedFunction("ret").Call(ctx, 1<<30); err == nil || !strings.Contains(err.Error(), "unreachable") {
		t.Fatalf("2^30 calls deep without memory: %v, want the budget's trap", err)
	}
}
