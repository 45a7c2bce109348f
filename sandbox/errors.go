package sandbox

import (
	"errors"
	"fmt"
)

// Errors of [Pool.Serve]; the host turns them into status codes.
var (
	// ErrQueueTimeout: no instance became free within the group's
	// queue_timeout (503).
	ErrQueueTimeout = errors.New("sandbox: no free instance within queue_timeout")
	// ErrTimeout: the request ran past the group's request_timeout and the
	// instance was stopped (504).
	ErrTimeout = errors.New("sandbox: request_timeout exceeded")
	// ErrTrap: the guest trapped or exited; the instance was discarded (500).
	ErrTrap = errors.New("sandbox: guest trapped")
	// ErrAppFailed: the export (wasgi_handle, or an auth export) returned
	// a failure (500 unless a response was started).
	ErrAppFailed = errors.New("sandbox: app failed")
	// ErrInstantiate: a new instance could not be created; for a
	// request, inside a StartError (503).
	ErrInstantiate = errors.New("sandbox: cannot create instance")
	// ErrClosed: the group was closed, e.g. by a config reload (503).
	ErrClosed = errors.New("sandbox: group closed")
)

// GuestError is a failed guest call, with the tail of what the instance
// wrote to stderr (Go's panic traces land there).
type GuestError struct {
	Kind   error // ErrTimeout, ErrTrap, ErrAppFailed or ErrInstantiate
	Err    error // the wazero error, or nil
	Code   int32 // the export's result for ErrAppFailed
	Stderr string
	// Export is the guest export that failed (wasgi_handle,
	// wasgi_check_password, ...); "" when no export ran.
	Export string
}

func (e *GuestError) Error() string {
	kind := e.Kind.Error()
	if e.Export != "" {
		kind += " in " + e.Export
	}
	switch {
	case e.Err != nil && e.Kind == ErrInstantiate && e.Stderr != "":
		// What the guest said while starting is the cause (a Python
		// traceback, wasgi check's problem line): part of the message.
		return fmt.Sprintf("%s: %v (stderr: %q)", kind, e.Err, e.Stderr)
	case e.Err != nil:
		return kind + ": " + e.Err.Error()
	case e.Kind == ErrAppFailed:
		return fmt.Sprintf("%s: returned %d", kind, e.Code)
	}
	return kind
}

// Unwrap makes errors.Is(err, ErrTrap) and friends work.
func (e *GuestError) Unwrap() []error { return []error{e.Kind, e.Err} }
