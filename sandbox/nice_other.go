//go:build !linux

package sandbox

// canRenice is false: thread priorities are Linux-only here.
func canRenice() bool { return false }

// deprioritizeIfLong runs call: thread priorities are Linux-only here.
func deprioritizeIfLong(_ bool, call func()) { call() }

// deprioritized runs call: thread priorities are Linux-only here.
func deprioritized(_ bool, call func()) { call() }
