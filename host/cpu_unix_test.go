//go:build unix

package host

import (
	"syscall"
	"testing"
	"time"
)

// cpuMeter reports the process's CPU time per op of a benchmark
// ("cpu-ns/op"), beside the wall time: on a shared machine, other
// processes stretch the wall time far more than the CPU time.
type cpuMeter struct{ start time.Duration }

func startCPU() cpuMeter { return cpuMeter{processCPU()} }

func (m cpuMeter) report(b *testing.B) {
	if b.N > 0 {
		b.ReportMetric(float64(processCPU()-m.start)/float64(b.N), "cpu-ns/op")
	}
}

func processCPU() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
