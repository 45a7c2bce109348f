//go:build !linux

package sandbox

import "errors"

// mapMemory is Linux only; elsewhere memory is a Go slice (memory.go).
func mapMemory(uint64) ([]byte, error) { return nil, errors.New("not mapped") }

func unmapMemory([]byte) {}
func populate([]byte)    {}

// codeResident is measured on Linux only.
func codeResident() uint64 { return 0 }
