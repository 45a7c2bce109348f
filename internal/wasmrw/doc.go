// Package wasmrw rewrites WebAssembly modules, bytes in and bytes out, for
// the sandbox to compile: [Instrument] makes a module stop itself at the
// host's request and pass through Go regularly, [ExportGlobals] exports its
// mutable globals for snapshots, [CoalesceData] merges its data segments
// so that instances start faster. Every rewrite keeps what the module does,
// and reads only WebAssembly 2.0 (what wazero accepts by default): a
// module it cannot be sure of is refused with [ErrParse], never guessed at.
//
// The package knows nothing of wazero; the sandbox owns when and why each
// rewrite runs and keeps their output in its cache under [Version].
package wasmrw

// Rewrite is every rewrite in the order the sandbox runs an instrumented
// module: CoalesceData, Instrument, ExportGlobals. Its output for given
// bytes is fixed for a Version. ErrParse: the module cannot be
// instrumented (the sandbox runs it with wazero's close-on-context-done).
func Rewrite(wasm []byte) ([]byte, error) {
	inst, err := Instrument(CoalesceData(wasm))
	if err != nil {
		return nil, err
	}
	return ExportGlobals(inst), nil
}
