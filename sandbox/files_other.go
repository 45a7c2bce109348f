//go:build !unix

package sandbox

// FileLimit is 0: there is no RLIMIT_NOFILE here.
func FileLimit() int { return 0 }
