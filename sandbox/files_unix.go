//go:build unix

package sandbox

import (
	"math"
	"syscall"
)

// FileLimit is the process's soft RLIMIT_NOFILE: how many descriptors it
// may hold open (Go raised it to the hard limit at start on Linux); 0 when
// there is no limit.
func FileLimit() int {
	var l syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &l); err != nil || l.Cur >= math.MaxInt64 {
		return 0
	}
	return int(min(l.Cur, math.MaxInt32))
}
