package sandbox

import (
	"os"
	"runtime"
)

// How guests share the CPU. wazero's machine code cannot be preempted by
// Go's scheduler: a guest gives its P back only at a host call or at its
// yields (every wasmrw.YieldEvery loop iterations and calls). Two
// policies live here and in nice_linux.go, and a host-side scheduler at
// the yields would too.

// procsPerCore is the GOMAXPROCS the host runs with, per core: with
// GOMAXPROCS = cores, two spinning guests would hold every P and stall
// other sites' requests; more Ps than cores lets the kernel share the CPU,
// and the sandbox lowers long calls' priority (docs/PERFORMANCE.md,
// "Isolation under fire").
const procsPerCore = 4

// SetGOMAXPROCS applies the host's GOMAXPROCS policy (procsPerCore Ps per
// core) unless GOMAXPROCS is set in the environment, which wins. A
// program serving guests calls it once at start.
func SetGOMAXPROCS() {
	if os.Getenv("GOMAXPROCS") == "" {
		runtime.GOMAXPROCS(procsPerCore * runtime.GOMAXPROCS(0))
	}
}
