package sandbox

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/experimental"
	"github.com/tetratelabs/wazero/sys"

	"github.com/wasgi/wasgi/abi"
)

// RunConfig is one run of an app outside HTTP, such as `wasgi manage`: the
// guest's arguments and standard streams, which are the caller's own (a
// terminal, for an interactive command).
type RunConfig struct {
	// Args follow argv[0], which is the app's name.
	Args []string
	// Env is added to the app's environment, replacing what it names.
	Env map[string]string
	// Stdin, Stdout and Stderr are the guest's; nil reads as empty and
	// discards.
	Stdin          io.Reader
	Stdout, Stderr io.Writer
	// Timeout stops the run, as request_timeout stops a request; 0 runs
	// until ctx ends.
	Timeout time.Duration
}

// ErrNoRunExport: a reactor without wasgi_run cannot run outside HTTP.
var ErrNoRunExport = errors.New("sandbox: module exports no wasgi_run; it can only serve requests")

// Run runs module m once to completion, with everything app cfg gives its
// instances (env, dirs, memory_limit) and nothing more: a WASI command's
// _start, or a reactor's _initialize then its wasgi_run export. It
// returns the guest's exit status (a command's proc_exit code, wasgi_run's
// result). A trap, or the timeout (a *GuestError of ErrTimeout), is an
// error. Host functions that need a request answer abi.ErrNotAllowed.
func (r *Runtime) Run(ctx context.Context, m *Module, cfg AppConfig, rc RunConfig) (int, error) {
	if m.Kind == Reactor && !m.Run {
		return 0, fmt.Errorf("%w (%s)", ErrNoRunExport, m.Path)
	}
	mc, dirs, roots, err := moduleConfig(r, m, cfg)
	if err != nil {
		return 0, err
	}
	defer closeRoots(roots)
	mc = mc.WithArgs(append([]string{cfg.Name}, rc.Args...)...)
	for k, v := range rc.Env {
		mc = mc.WithEnv(k, v)
	}
	if rc.Stdin != nil {
		mc = mc.WithStdin(rc.Stdin)
	}
	if rc.Stdout != nil {
		mc = mc.WithStdout(rc.Stdout)
	}
	stderr := newTailWriter(cfg.Logger, zerolog.WarnLevel, "stderr")
	mc = mc.WithStderr(stderr)
	if rc.Stderr != nil {
		stderr.quiet = true // the caller's Stderr shows it; the tail is for the error
		mc = mc.WithStderr(io.MultiWriter(rc.Stderr, stderr))
	}

	ctx = context.WithoutCancel(ctx)
	deadline := new(atomic.Int64)
	deadline.Store(1<<63 - 1)
	if rc.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, rc.Timeout)
		defer cancel()
		dl, _ := ctx.Deadline()
		deadline.Store(dl.UnixNano())
	}
	files := &fileCount{all: &r.files}
	mc = mc.WithNanosleep(boundedSleep(deadline)).WithFSConfig(dirs.config(files))
	state := &instanceState{log: &cfg.Logger, stderr: stderr, deadline: deadline, net: newNetState(cfg), roots: lockRoots(cfg.Dirs, roots), files: files}
	defer state.close()
	ctx = withState(ctx, state)
	var mem *memoryAllocator
	if cfg.MemoryLimit > 0 {
		mem = newMemoryAllocator(cfg.MemoryLimit, r.spares)
		ctx = experimental.WithMemoryAllocator(ctx, mem)
	}

	code := 0
	mem.inUse(func() {
		if m.Kind == Command {
			var mod api.Module
			mod, _, err = m.instantiate(ctx, mc, abi.FuncStart, cfg.StackLimit)
			if mod != nil {
				mod.Close(ctx)
			}
			return
		}
		init := ""
		if m.initialize {
			init = abi.FuncInitialize
		}
		mod, g, ierr := m.instantiate(ctx, mc, init, cfg.StackLimit)
		if err = ierr; err != nil {
			return
		}
		defer mod.Close(ctx)
		err = armed(ctx, g, func() error {
			res, err := mod.ExportedFunction(abi.FuncRun).Call(ctx)
			if err == nil {
				code = int(api.DecodeI32(res[0]))
			}
			return exitOK(err)
		})
	})
	var exit *sys.ExitError
	switch {
	case err == nil:
		return code, nil
	case errors.As(err, &exit) && exit.ExitCode() != sys.ExitCodeDeadlineExceeded:
		return int(exit.ExitCode()), nil // proc_exit(n)
	case errors.As(err, &exit):
		return 0, &GuestError{Kind: ErrTimeout, Err: err, Stderr: stderr.String()}
	}
	return 0, &GuestError{Kind: ErrTrap, Err: err, Stderr: stderr.String()}
}
