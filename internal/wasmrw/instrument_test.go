package wasmrw

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"testing"

	"github.com/tetratelabs/wazero"

	"github.com/wasgi/wasgi/internal/testwasm"
)

// TestInstrumentRealModules: the test guests (Go, C reactor, C command)
// Instrument, compile, and keep their exports; DWARF sections go.
func TestInstrumentRealModules(t *testing.T) {
	ctx := context.Background()
	paths := []string{
		testwasm.Build(t, "testdata/guest"),
		testwasm.BuildC(t, "testdata/snapshot/snap.c", true),
		testwasm.BuildC(t, "examples/c-hello/hello.c", true),
		testwasm.BuildC(t, "examples/c-hello/cgi.c", false),
	}
	for _, path := range paths {
		wasm, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		out, err := Instrument(wasm)
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		loops := bytes.Count(out, []byte{0x45, 0x04, 0x40, 0x10}) // i32.eqz if call: one per check
		if loops == 0 {
			t.Fatalf("%s: no loop instrumented", path)
		}
		if bytes.Contains(out, []byte(".debug_info")) {
			t.Errorf("%s: DWARF kept", path)
		}
		r := wazero.NewRuntime(ctx)
		c, err := r.CompileModule(ctx, out)
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		orig, err := r.CompileModule(ctx, wasm)
		if err != nil {
			t.Fatal(err)
		}
		if len(c.ExportedFunctions()) != len(orig.ExportedFunctions()) {
			t.Errorf("%s: exports changed", path)
		}
		r.Close(ctx)
		t.Logf("%s: %d loops, %d → %d bytes", path, loops, len(wasm), len(out))
	}
}

// FuzzInstrument feeds arbitrary bytes to the instrumenter: it
// must never panic; what it returns is refused a second time, and compiles
// whenever its input does.
func FuzzInstrument(f *testing.F) {
	f.Add(testwasm.Runaway)
	f.Add(leaving)
	f.Add(leavingModule(false))
	f.Add([]byte("\x00asm\x01\x00\x00\x00"))
	ctx := context.Background()
	r := wazero.NewRuntimeWithConfig(ctx, wazero.NewRuntimeConfigInterpreter())
	f.Cleanup(func() { r.Close(ctx) })
	f.Fuzz(func(t *testing.T, b []byte) {
		out, err := Instrument(b)
		if err != nil {
			return
		}
		if _, err := Instrument(out); err != ErrParse {
			t.Fatalf("instrumented twice: %v", err)
		}
		if c, err := r.CompileModule(ctx, b); err == nil {
			c.Close(ctx)
			c, err := r.CompileModule(ctx, out)
			if err != nil {
				t.Fatalf("input compiles, output does not: %v", err)
			}
			c.Close(ctx)
		}
	})
}

// TestRewriteVersion: the rewrites' output for fixed modules. When it
// changes, so must Version, or a host would run modules rewritten
// by an earlier wasgi from its cache; then update the hashes here.
func TestRewriteVersion(t *testing.T) {
	want := map[string]string{
		"runaway":  "b87b9fac8f1e45d160f0d7c9c637383c410ac4b16bc4721d72327dd61fff4577",
		"withData": "a63f436859b4cf27a1e583487dcc0eac803d55c72ee984c7e5ec6004969b8481",
	}
	for name, wasm := range map[string][]byte{"runaway": testwasm.Runaway, "withData": testwasm.WithData} {
		out, err := Rewrite(wasm)
		if err != nil {
			t.Fatalf("%s: not instrumented: %v", name, err)
		}
		sum := sha256.Sum256(out)
		if got := hex.EncodeToString(sum[:]); got != want[name] {
			t.Errorf("%s: rewritten to %s, want %s: bump Version (now %s) and update this test", name, got, want[name], Version)
		}
	}
}
