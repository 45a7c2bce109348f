package sandbox

import (
	"crypto/rand"
	"fmt"
	"os"
	"sync/atomic"

	"github.com/rs/zerolog"
	"github.com/tetratelabs/wazero"
	"github.com/wasgi/wasgi/abi"
)

// Dir is a host directory preopened in the guest.
type Dir struct {
	Guest, Host string
	ReadOnly    bool
	// Quota limits what a rw dir may hold (quota.go); zero: no limit.
	Quota Quota
	// QuotaStats, when set, counts the app's refusals over Quota.
	QuotaStats *QuotaStats
}

// AppConfig is what an app's instances get: nothing else of the host or of
// other apps is visible to them.
type AppConfig struct {
	// Name is the app's name in logs and argv[0], e.g. "mysite/main".
	Name string
	// Env is the WASI environment (os.Getenv in the guest).
	Env map[string]string
	// Dirs are the WASI preopens.
	Dirs []Dir
	// MemoryLimit caps each instance's linear memory, in bytes; 0 = 4 GiB.
	MemoryLimit uint64
	// StackLimit caps what the frames of one call may add up to on the
	// engine's native stack, outside linear memory, as the rewrite
	// estimates them (internal/wasmrw/stack.go); a call past it traps.
	// 0 = DefaultStackLimit.
	StackLimit uint64
	// Logger gets the guest's stdout, stderr and log calls (the host
	// rate-limits it).
	Logger zerolog.Logger
	// HostLogger gets the sandbox's own events about the app.
	HostLogger zerolog.Logger
	// Snapshot starts instances after the first from a copy of the
	// first one's state right after _initialize (see snapshot.go).
	Snapshot bool
	// Outbound lists what the app's instances may connect to (net.go);
	// nil: nothing.
	Outbound *Outbound
	// StartFailures counts the app's failed instance starts (see
	// start.go); shared with the pool a reload replaces. nil: a new one.
	StartFailures *atomic.Int64
}

// moduleConfig is what every instance of an app gets: its args, env,
// real clocks and a crypto random source; nothing else. Its preopens are
// opened here and mounted per instance (preopens.config), so that each
// instance's files are counted (files.go). The preopens' roots stay open
// for the app's life: the caller closes them.
func moduleConfig(r *Runtime, m *Module, cfg AppConfig) (_ wazero.ModuleConfig, dirs preopens, roots []*os.Root, err error) {
	if cfg.MemoryLimit > 0 && m.MinMemory > cfg.MemoryLimit {
		return nil, dirs, nil, fmt.Errorf("sandbox: %s: module %s needs %d KiB of memory at start, memory_limit is %d KiB",
			cfg.Name, m.Path, m.MinMemory>>10, cfg.MemoryLimit>>10)
	}
	mc := wazero.NewModuleConfig().
		WithName("").
		WithArgs(cfg.Name).
		WithSysWalltime().WithSysNanotime().WithSysNanosleep().
		WithRandSource(rand.Reader)
	switch {
	case m.Kind == Command:
		mc = mc.WithStartFunctions(abi.FuncStart)
	case m.initialize:
		mc = mc.WithStartFunctions(abi.FuncInitialize)
	default:
		mc = mc.WithStartFunctions()
	}
	for k, v := range cfg.Env {
		mc = mc.WithEnv(k, v)
	}
	for _, d := range cfg.Dirs {
		fsys, root, err := newRootFS(d.Host, d.ReadOnly)
		if err != nil {
			closeRoots(roots)
			return nil, preopens{}, nil, fmt.Errorf("sandbox: %s: dir %s: %w", cfg.Name, d.Guest, err)
		}
		roots = append(roots, root)
		var q *dirQuota
		if !d.ReadOnly && (d.Quota.Bytes > 0 || d.Quota.Files > 0) {
			q = &dirQuota{u: r.quotas.usage(d.Host), limit: d.Quota, guest: d.Guest, log: cfg.HostLogger, stats: d.QuotaStats}
		}
		dirs.fs, dirs.guest, dirs.quota = append(dirs.fs, fsys), append(dirs.guest, d.Guest), append(dirs.quota, q)
	}
	return mc, dirs, roots, nil
}

func closeRoots(roots []*os.Root) {
	for _, r := range roots {
		r.Close()
	}
}

// lockRoots pairs an app's dirs with their open roots (moduleConfig's, in
// the same order), for file_lock.
func lockRoots(dirs []Dir, roots []*os.Root) []lockRoot {
	out := make([]lockRoot, len(roots))
	for i, r := range roots {
		out[i] = lockRoot{guest: dirs[i].Guest, root: r, readOnly: dirs[i].ReadOnly}
	}
	return out
}
