// Package sandbox runs wasgi guest apps in wazero: one runtime per host with
// an on-disk compilation cache, each module compiled once, instances created
// from it with only their app's environment, preopened directories and
// memory limit, pooled per daemon group, and the host side of the wasgi ABI
// (see package abi).
//
// The package knows nothing of the TOML config: the host translates site
// config into [AppConfig] and [GroupConfig].
package sandbox

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"
	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/imports/wasi_snapshot_preview1"

	"github.com/wasgi/wasgi/abi"
	"github.com/wasgi/wasgi/internal/wasmrw"
)

// Options configure a [Runtime].
type Options struct {
	// CacheDir holds wazero's compilation cache; "" keeps it in memory.
	CacheDir string
	// Logger receives runtime events; guest output goes to each app's logger.
	Logger zerolog.Logger
}

// Runtime is the wazero runtime shared by every app of a host. It owns the
// compiled modules, keyed by content so that an unchanged module is never
// compiled twice, even across config reloads.
//
// Modules run without wazero's close-on-context-done: Compile instruments
// them so that the host can stop them itself (interrupt.go). A
// module the instrumentation cannot handle is compiled in a second wazero
// runtime, created on first use, with close-on-context-done on: wazero
// sets that option per runtime, and it makes guest code 3–9× slower.
type Runtime struct {
	rt       wazero.Runtime // close-on-context-done off
	cacheDir string         // "" without a compilation cache
	base     wazero.RuntimeConfig
	cache    wazero.CompilationCache
	log      zerolog.Logger
	wasi     map[string]api.FunctionDefinition // what a guest may import from WASI
	renice   bool                              // long guest calls may run at lower priority (nice_linux.go)
	spares   *spareSet                         // memory mappings kept for the next instances (memory.go)
	files    guestFiles                        // the files guests hold open, and their share (files.go)
	quotas   quotas                            // the usage of rw dirs with a quota (quota.go)

	closingMu sync.Mutex
	closing   wazero.Runtime // close-on-context-done on; nil until a module needs it

	mu      sync.Mutex
	modules map[string]*Module // by hash

	compiled, reused atomic.Int64 // modules compiled, and compiles saved by sharing one
	compileNS        atomic.Int64 // time spent compiling (from wazero's cache or not)
}

// CompileStats are the runtime's compile counters.
type CompileStats struct {
	Compiled, Reused int64         // modules compiled; Compile calls answered by a module in memory
	Time             time.Duration // total compile time (loading from the on-disk cache included)
	Loaded           int           // modules in memory now
}

// CompileStats returns the compile counters. wazero does not tell a load
// from its on-disk cache from a fresh compile; the time tells them apart
// (tens of milliseconds against seconds for a Go guest).
func (r *Runtime) CompileStats() CompileStats {
	r.mu.Lock()
	n := len(r.modules)
	r.mu.Unlock()
	return CompileStats{Compiled: r.compiled.Load(), Reused: r.reused.Load(), Time: time.Duration(r.compileNS.Load()), Loaded: n}
}

// New creates a runtime with the wasgi host module and WASI preview 1.
func New(ctx context.Context, o Options) (*Runtime, error) {
	r := &Runtime{base: wazero.NewRuntimeConfig(), log: o.Logger, modules: map[string]*Module{}, renice: canRenice()}
	r.spares = newSpareSet(r.renice)
	r.files.log = o.Logger
	r.ReserveFiles(FileLimit() / 4) // until the host says what it needs
	if o.CacheDir != "" {
		r.cacheDir = o.CacheDir
		// Both wazero runtimes share this cache (and its engine): wazero
		// hashes close-on-context-done into a module's ID, which keys the
		// compiled code in memory and on disk, so the two variants of one
		// module never stand in for each other.
		var err error
		if r.cache, err = wazero.NewCompilationCacheWithDir(o.CacheDir); err != nil {
			return nil, fmt.Errorf("sandbox: compilation cache %s: %w", o.CacheDir, err)
		}
		r.base = r.base.WithCompilationCache(r.cache)
	}
	var err error
	if r.rt, err = r.newWazero(ctx, false); err != nil {
		if r.cache != nil {
			r.cache.Close(ctx)
		}
		return nil, err
	}
	r.wasi = r.rt.Module(wasi_snapshot_preview1.ModuleName).ExportedFunctionDefinitions()
	return r, nil
}

// newWazero creates a wazero runtime with WASI and the wasgi host module.
func (r *Runtime) newWazero(ctx context.Context, closeOnDone bool) (wazero.Runtime, error) {
	rt := wazero.NewRuntimeWithConfig(ctx, r.base.WithCloseOnContextDone(closeOnDone))
	if err := instantiateWASI(ctx, rt); err != nil {
		rt.Close(ctx)
		return nil, fmt.Errorf("sandbox: wasi: %w", err)
	}
	if err := instantiateHostModule(ctx, rt); err != nil {
		rt.Close(ctx)
		return nil, fmt.Errorf("sandbox: host module: %w", err)
	}
	return rt, nil
}

// closingRuntime returns the runtime with close-on-context-done, creating
// it on first use.
func (r *Runtime) closingRuntime(ctx context.Context) (wazero.Runtime, error) {
	r.closingMu.Lock()
	defer r.closingMu.Unlock()
	if r.closing == nil {
		rt, err := r.newWazero(ctx, true)
		if err != nil {
			return nil, err
		}
		r.closing = rt
	}
	return r.closing, nil
}

// Close closes every instance and compiled module of the runtime.
func (r *Runtime) Close(ctx context.Context) error {
	r.closingMu.Lock()
	var err error
	if r.closing != nil {
		err = r.closing.Close(ctx)
	}
	r.closingMu.Unlock()
	err = errors.Join(err, r.rt.Close(ctx))
	if r.cache != nil {
		err = errors.Join(err, r.cache.Close(ctx))
	}
	return err
}

// Kind tells how a module is run.
type Kind int

const (
	// Reactor is a module exporting wasgi_handle, called once per request
	// on pooled instances (abi = "wasgi").
	Reactor Kind = iota
	// Command is a WASI command (exports _start), run once per request as
	// CGI (abi = "cgi").
	Command
)

// Module is a compiled guest module. It is immutable and shared by every
// app that uses the same bytes.
type Module struct {
	// Path is the file the module was first compiled from.
	Path string
	// Hash is the hex sha256 of the module bytes.
	Hash string
	// Kind is Reactor or Command.
	Kind Kind
	// CheckPassword and GroupsForUser report the optional auth exports.
	CheckPassword, GroupsForUser bool
	// Run reports a reactor's optional wasgi_run export (see Runtime.Run).
	Run bool
	// MinMemory is the linear memory the module needs at start, in bytes.
	MinMemory  uint64
	rt         wazero.Runtime // the wazero runtime it was compiled in
	compiled   wazero.CompiledModule
	stop       stopping // how request_timeout stops its guest code
	initialize bool     // exports _initialize
	refs       int      // guarded by Runtime.mu: Compile calls not yet Released
}

// stopping is how request_timeout stops a module's guest code.
type stopping int

const (
	// byInterrupt: the module was instrumented (interrupt.go); the host
	// sets its interrupt global at the deadline.
	byInterrupt stopping = iota
	// byClose: wazero's close-on-context-done, for a module that could not
	// be instrumented.
	byClose
)

// Compile reads and compiles the module at path, or returns the module
// already compiled from the same bytes. It checks the module's imports and
// exports against the ABI so that a wrong module fails at load time, not on
// its first request. Each successful Compile must be paired with a
// Release once nothing uses the module any more.
//
// request_timeout stops the module's guest code wherever it is.
func (r *Runtime) Compile(ctx context.Context, path string) (*Module, error) {
	wasm, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("sandbox: %w", err)
	}
	sum := sha256.Sum256(wasm)
	hash := hex.EncodeToString(sum[:])

	r.mu.Lock()
	m := r.modules[hash]
	if m != nil {
		m.refs++
	}
	r.mu.Unlock()
	if m != nil {
		r.reused.Add(1)
		return m, nil
	}
	start := time.Now()
	rt, stop := r.rt, byInterrupt
	var compiled wazero.CompiledModule
	if inst := r.instrumented(hash, wasm); inst != nil {
		compiled, err = rt.CompileModule(ctx, inst)
		if err != nil {
			// The original may compile where the rewrite does not only
			// if the rewriter is wrong: say so, and run it the old way.
			r.log.Warn().Err(err).Str("module", path).Msg("instrumented module does not compile; compiling it as it is")
			r.forgetInstrumented(hash)
			compiled = nil
		}
	}
	if compiled == nil {
		if rt, err = r.closingRuntime(ctx); err != nil {
			return nil, err
		}
		stop = byClose
		compiled, err = rt.CompileModule(ctx, wasmrw.ExportGlobals(wasmrw.CoalesceData(wasm)))
	}
	r.compileNS.Add(int64(time.Since(start)))
	r.compiled.Add(1)
	if err != nil {
		return nil, fmt.Errorf("sandbox: compile %s: %w", path, err)
	}
	m, err = r.inspect(path, hash, compiled)
	if err != nil {
		compiled.Close(ctx)
		return nil, err
	}
	m.rt, m.stop = rt, stop
	r.mu.Lock()
	if prev := r.modules[hash]; prev != nil { // compiled concurrently
		prev.refs++
		r.mu.Unlock()
		compiled.Close(ctx)
		return prev, nil
	}
	m.refs = 1
	r.modules[hash] = m
	r.mu.Unlock()
	return m, nil
}

// retain takes one more reference on m, dropped by Release.
func (r *Runtime) retain(m *Module) {
	r.mu.Lock()
	m.refs++
	r.mu.Unlock()
}

// Release drops one reference taken by Compile; the last frees the
// compiled code, so a reload that replaces a module does not keep the old
// one's machine code for the life of the process. Instances of m must be
// closed first.
func (r *Runtime) Release(ctx context.Context, m *Module) {
	r.mu.Lock()
	m.refs--
	last := m.refs == 0
	if last {
		delete(r.modules, m.Hash)
	}
	r.mu.Unlock()
	if last {
		m.compiled.Close(ctx)
	}
}

// inspect checks a compiled module against the ABI and WASI, so that what
// would fail at instantiation fails at load (and in `wasgi check`).
func (r *Runtime) inspect(path, hash string, c wazero.CompiledModule) (*Module, error) {
	m := &Module{Path: path, Hash: hash, compiled: c}
	var problems []error
	for _, f := range c.ImportedFunctions() {
		mod, name, _ := f.Import()
		switch mod {
		case abi.ModuleName:
			want, ok := hostFuncs[name]
			if !ok {
				problems = append(problems, fmt.Errorf("imports unknown function %s.%s", mod, name))
			} else if !sameSignature(f, sig{want.params, want.results}) {
				problems = append(problems, fmt.Errorf("imports %s.%s with signature %s, want %s", mod, name, signature(f.ParamTypes(), f.ResultTypes()), signature(want.params, want.results)))
			}
		case wasi_snapshot_preview1.ModuleName:
			if want, ok := r.wasi[name]; !ok {
				problems = append(problems, fmt.Errorf("imports unknown function %s.%s", mod, name))
			} else if !sameSignature(f, sig{want.ParamTypes(), want.ResultTypes()}) {
				problems = append(problems, fmt.Errorf("imports %s.%s with signature %s, want %s", mod, name, signature(f.ParamTypes(), f.ResultTypes()), signature(want.ParamTypes(), want.ResultTypes())))
			}
		default:
			problems = append(problems, fmt.Errorf("imports %s.%s: only modules %q and %q exist", mod, name, abi.ModuleName, wasi_snapshot_preview1.ModuleName))
		}
	}
	for _, mem := range c.ImportedMemories() {
		mod, name, _ := mem.Import()
		problems = append(problems, fmt.Errorf("imports memory %s.%s: the host provides none; the module must define its own", mod, name))
	}
	exports := c.ExportedFunctions()
	check := func(name string, results []api.ValueType) bool {
		f, ok := exports[name]
		if !ok {
			return false
		}
		if !sameSignature(f, sig{results: results}) {
			problems = append(problems, fmt.Errorf("exports %s with signature %s, want %s", name, signature(f.ParamTypes(), f.ResultTypes()), signature(nil, results)))
			return false
		}
		return true
	}
	i32 := []api.ValueType{api.ValueTypeI32}
	handle := check(abi.FuncHandle, i32)
	m.CheckPassword = check(abi.FuncCheckPassword, i32)
	m.GroupsForUser = check(abi.FuncGroupsForUser, i32)
	m.Run = check(abi.FuncRun, i32)
	m.initialize = check(abi.FuncInitialize, nil)
	start := check(abi.FuncStart, nil)
	switch {
	case handle && start && !m.initialize:
		problems = append(problems, fmt.Errorf("exports %s but is a WASI command (it exports %s, not %s): build a reactor (Go: -buildmode=c-shared; C: -mexec-model=reactor)", abi.FuncHandle, abi.FuncStart, abi.FuncInitialize))
	case handle:
		m.Kind = Reactor
	case start:
		m.Kind = Command
	default:
		problems = append(problems, fmt.Errorf("exports neither %s (a wasgi reactor) nor %s (a WASI command for abi = \"cgi\")", abi.FuncHandle, abi.FuncStart))
	}
	for _, mem := range c.ExportedMemories() {
		m.MinMemory = uint64(mem.Min()) << 16
	}
	if len(problems) > 0 {
		return nil, fmt.Errorf("sandbox: module %s: %w", path, errors.Join(problems...))
	}
	return m, nil
}

type sig struct{ params, results []api.ValueType }

func sameSignature(f api.FunctionDefinition, s sig) bool {
	return equalTypes(f.ParamTypes(), s.params) && equalTypes(f.ResultTypes(), s.results)
}

func equalTypes(a, b []api.ValueType) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func signature(params, results []api.ValueType) string {
	s := "("
	for i, p := range params {
		if i > 0 {
			s += ", "
		}
		s += api.ValueTypeName(p)
	}
	s += ")"
	if len(results) > 0 {
		s += " -> " + api.ValueTypeName(results[0])
	}
	return s
}
