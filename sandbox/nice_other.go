//go:build !linux

package sandbox

// canRenice is false: thread priorities are Linux-only here.
func canRenice() bool { return false }

// deprioritizeIfLong runs call: thread priorities are Linux-only here.
func deprioritizeIfLong(_ bool, call func()) { call() }

// nicer runs calls: thread priorities are Linux-only here.
type nicer struct{}

func newNicer(bool) *nicer { return nil }

func (*nicer) run(call func()) { call() }

func (*nicer) stop() {}

// deprioritized runs call: thread priorities are Linux-only here.
func deprioritized(_ bool, call func()) { call() }
