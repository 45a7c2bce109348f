package sandbox

import (
	"context"
	"errors"
	"fmt"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"

	"github.com/wasgi/wasgi/abi"
)

// The host side of the wasgi ABI (module "wasgi", abi/ABI.md). Each area
// has its own file, host_<area>.go, with a table of its functions; a new
// area (outbound connections, file locks) adds a file and a line to
// hostFuncs below, nothing else.

// hostFunc is one import of module "wasgi": its name, its Go code, its
// signature and what it does, in one value, the way wazero's own WASI
// functions are declared.
type hostFunc struct {
	name    string
	fn      api.GoModuleFunc
	params  []api.ValueType
	results []api.ValueType
	// paramNames and resultNames document the signature (wazero shows
	// them in traces).
	paramNames, resultNames []string
}

var i32 = api.ValueTypeI32

// newHostFunc declares a function of i32 parameters named params and, with
// result set, one i32 result.
func newHostFunc(name string, fn api.GoModuleFunc, result string, params ...string) hostFunc {
	f := hostFunc{name: name, fn: fn, paramNames: params}
	for range params {
		f.params = append(f.params, i32)
	}
	if result != "" {
		f.results, f.resultNames = []api.ValueType{i32}, []string{result}
	}
	return f
}

// hostFuncs are every import of module "wasgi", by name.
var hostFuncs = func() map[string]hostFunc {
	m := map[string]hostFunc{}
	for _, area := range [][]hostFunc{environFuncs, bodyFuncs, responseFuncs, authFuncs, logFuncs, netFuncs, lockFuncs, cryptoFuncs} {
		for _, f := range area {
			if _, dup := m[f.name]; dup {
				panic("sandbox: host function declared twice: " + f.name)
			}
			m[f.name] = f
		}
	}
	return m
}()

// instantiateHostModule registers module "wasgi" once per runtime; every
// guest links against the same host functions, which find their instance
// and request in the call's context (stateFrom, callFrom).
func instantiateHostModule(ctx context.Context, rt wazero.Runtime) error {
	b := rt.NewHostModuleBuilder(abi.ModuleName)
	for _, f := range hostFuncs {
		b.NewFunctionBuilder().
			WithGoModuleFunction(f.fn, f.params, f.results).
			WithParameterNames(f.paramNames...).
			WithResultNames(f.resultNames...).
			Export(f.name)
	}
	_, err := b.Instantiate(ctx)
	return err
}

// errOutOfBounds is the trap raised when a guest hands the host a buffer
// outside its own memory.
var errOutOfBounds = errors.New("out of bounds memory access")

// guestBytes returns the guest's buf[0:len] as a view into its memory, or
// traps the guest when the range is not inside its memory.
func guestBytes(m api.Module, fn string, ptr, n uint64) []byte {
	b, ok := m.Memory().Read(uint32(ptr), uint32(n))
	if !ok {
		panic(fmt.Errorf("wasgi: %s(%#x, %d): %w", fn, uint32(ptr), uint32(n), errOutOfBounds))
	}
	return b
}

// copyIfFits writes s into buf when it fits and returns len(s): the buffer
// rule of environ_read, auth_user and auth_password.
func copyIfFits(buf []byte, s string) int32 {
	if len(buf) >= len(s) {
		copy(buf, s)
	}
	return int32(len(s))
}
