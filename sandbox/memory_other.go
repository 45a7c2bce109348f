//go:build !linux

package sandbox

import (
	"errors"
	"sync/atomic"
)

// mapMemory is Linux only; elsewhere memory is a Go slice (memory.go).
func mapMemory(uint64) ([]byte, error) { return nil, errors.New("not mapped") }

func unmapMemory([]byte) {}
func populate([]byte)    {}

// newSharedMemory is Linux only: elsewhere a snapshot is a copy on the Go
// heap, copied into each instance.
func newSharedMemory([]byte, *atomic.Int64) (*sharedMemory, error) { return nil, errNotShared }

func (*sharedMemory) mapOver([]byte) error { return errNotShared }

// smapsTotals is measured on Linux only.
func smapsTotals() (code, copied uint64) { return 0, 0 }
