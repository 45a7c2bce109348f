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
	// ErrAppFailed: wasgi_handle returned non-zero (500 unless a response
	// was started).
	ErrAppFailed = errors.New("sandbox: wasgi_handle failed")
	// ErrInstantiate: a new instance could not be created (500).
	ErrInstantiate = errors.New("sandbox: cannot create instance")
	// ErrClosed: the group was closed, e.g. by a config reload (503).
	ErrClosed = errors.New("sandbox: group closed")
)

// GuestError is a failed guest call, with the tail of what the instance
// wrote to stderr (Go's panic traces land there).
type GuestError struct {
	Kind   error // ErrTimeout, ErrTrap, ErrAppFailed or ErrInstantiate
	Err    error // the wazero error, or nil
	Code   int32 // wasgi_handle's result for ErrAppFailed
	Stderr string
}

func (e *GuestError) Error() string {
	switch {
	case e.Err != nil:
		return e.Kind.Error() + ": " + e.Err.Error()
	case e.Kind == ErrAppFailed:
		return fmt.Sprintf("%v: returned %d", e.Kind, e.Code)
	}
	return e.Kind.Error()
}

// Unwrap makes errors.Is(err, ErrTrap) and friends work.
func (e *GuestError) Unwrap() []error { return []error{e.Kind, e.Err} }
