package wasmrw

import (
	"bytes"
	"context"
	"os"
	"testing"

	"github.com/tetratelabs/wazero"

	"github.com/wasgi/wasgi/internal/testwasm"
)

// TestExportGlobals checks the rewrite on real modules: it adds one export
// per mutable global, the result still compiles, and a second rewrite is
// refused rather than doubled.
func TestExportGlobals(t *testing.T) {
	for _, path := range []string{testwasm.BuildC(t, "testdata/snapshot/snap.c", true), testwasm.Build(t, "testdata/guest")} {
		wasm, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		out := ExportGlobals(wasm)
		if bytes.Equal(out, wasm) {
			t.Fatalf("%s: not rewritten", path)
		}
		if again := ExportGlobals(out); !bytes.Equal(again, out) {
			t.Fatalf("%s: rewritten twice", path)
		}
		r := wazero.NewRuntime(context.Background())
		if _, err := r.CompileModule(context.Background(), out); err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		r.Close(context.Background())
		if !bytes.Contains(out, []byte(GlobalExportPrefix+"0")) {
			t.Errorf("%s: no global exported", path)
		}
	}
}

// FuzzExportGlobals feeds arbitrary bytes to the wasm rewriter: it must
// never panic, and whatever it returns must be the input or parse again.
func FuzzExportGlobals(f *testing.F) {
	f.Add([]byte("\x00asm\x01\x00\x00\x00"))
	f.Add([]byte("\x00asm\x01\x00\x00\x00\x06\x06\x01\x7f\x01\x41\x00\x0b\x07\x01\x00"))
	f.Fuzz(func(t *testing.T, b []byte) {
		out := ExportGlobals(b)
		if !bytes.Equal(out, b) {
			if _, err := rewriteExports(out); err != ErrParse {
				t.Fatalf("rewritten module rewritten again: %v", err)
			}
		}
	})
}
