//go:build !linux

package sandbox

// deprioritizeIfLong runs call: thread priorities are Linux-only here.
func deprioritizeIfLong(call func()) { call() }

// deprioritized runs call: thread priorities are Linux-only here.
func deprioritized(call func()) { call() }
