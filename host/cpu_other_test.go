//go:build !unix

package host

import "testing"

// cpuMeter measures nothing outside Unix.
type cpuMeter struct{}

func startCPU() cpuMeter { return cpuMeter{} }

func (cpuMeter) report(*testing.B) {}
