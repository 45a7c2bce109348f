package wasmrw

import (
	"context"
	"testing"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
)

// stubHostImports instantiates, in rt, a module "wasgi" whose functions
// are what wasm imports from it, each doing nothing and returning zeros:
// these tests look at what a rewrite does to a module, not at the ABI.
func stubHostImports(t testing.TB, ctx context.Context, rt wazero.Runtime, wasm []byte) {
	t.Helper()
	c, err := rt.CompileModule(ctx, wasm)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(ctx)
	b := rt.NewHostModuleBuilder("wasgi")
	n := 0
	for _, f := range c.ImportedFunctions() {
		if mod, name, _ := f.Import(); mod == "wasgi" {
			b.NewFunctionBuilder().WithGoModuleFunction(api.GoModuleFunc(func(context.Context, api.Module, []uint64) {}), f.ParamTypes(), f.ResultTypes()).Export(name)
			n++
		}
	}
	if n > 0 {
		if _, err := b.Instantiate(ctx); err != nil {
			t.Fatal(err)
		}
	}
}
