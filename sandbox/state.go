package sandbox

import (
	"context"
	"errors"
	"io"
	"sync"
	"sync/atomic"

	"github.com/rs/zerolog"
)

// instanceState is what one instance holds for its whole life, reached by
// the host functions through the context (stateFrom): the running call,
// the app's logger for calls outside a request, and the host-side
// resources the guest opened through the ABI (outbound connections, file
// locks). Those outlive a request (a database pool keeps its connections
// in a warm instance) and are closed with the instance: when it is
// recycled, trapped, timed out or evicted, nothing it held stays open.
//
// An instance runs one call at a time, so call and stderr need no lock;
// the resource table has one because Close may come from another goroutine
// (a group closing while the guest waits on a connection).
type instanceState struct {
	log    *zerolog.Logger // the app's logger: guest log calls outside a request
	call   *Call           // the running call; nil between calls
	stderr *tailWriter     // the instance's stderr; its tail is kept per call
	// deadline is the running call's, in Unix ns (for sleeps and
	// network calls); nil means none.
	deadline *atomic.Int64
	net      *netState  // outbound connections; nil: none allowed
	roots    []lockRoot // the app's dirs, for file_lock
	files    *fileCount // the files it holds open in its dirs (files.go)

	mu        sync.Mutex
	resources map[int32]resource
	counts    [resourceKinds]int
	next      int32
	closed    bool
	lockFiles map[string]lockFile // by guest path: the files file_lock holds open
}

// resourceKind tells apart what the resource table counts separately (each
// kind has its own limit).
type resourceKind uint8

// resourceKinds is the number of kinds: resourceConn (host_net.go),
// resourceLockFile (host_lock.go); a new kind takes the next number.
const resourceKinds = 2

// resource is a host-side object a guest holds through a handle.
type resource struct {
	kind resourceKind
	c    io.Closer
}

// errTooManyResources: the instance holds its limit of that kind already.
var errTooManyResources = errors.New("sandbox: instance holds too many resources of this kind")

// errStateClosed: the instance is being closed; nothing new may open.
var errStateClosed = errors.New("sandbox: instance closed")

type stateKey struct{}

// withState returns ctx carrying s, for the host functions of its calls.
func withState(ctx context.Context, s *instanceState) context.Context {
	return context.WithValue(ctx, stateKey{}, s)
}

// stateFrom is the state of the instance whose guest called a host
// function, nil when the context carries none (a host function called by
// a test or the fuzzer without one).
func stateFrom(ctx context.Context) *instanceState {
	s, _ := ctx.Value(stateKey{}).(*instanceState)
	return s
}

// callFrom is the call running on the instance, nil between calls.
func callFrom(ctx context.Context) *Call {
	if s := stateFrom(ctx); s != nil {
		return s.call
	}
	return nil
}

// add puts c in the table and returns its handle (1 and up, never reused
// while the instance lives, so a stale handle never reaches a newer
// resource), or errTooManyResources once limit resources of kind are open
// (limit <= 0: no limit).
func (s *instanceState) add(kind resourceKind, c io.Closer, limit int) (int32, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case s.closed:
		return 0, errStateClosed
	case limit > 0 && s.counts[kind] >= limit:
		return 0, errTooManyResources
	case s.next == 1<<31-1:
		return 0, errTooManyResources // 2^31 opens in one instance: recycle it
	}
	if s.resources == nil {
		s.resources = map[int32]resource{}
	}
	s.next++
	s.resources[s.next] = resource{kind, c}
	s.counts[kind]++
	return s.next, nil
}

// get returns the resource of kind behind handle h.
func (s *instanceState) get(kind resourceKind, h int32) (io.Closer, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.resources[h]
	if !ok || r.kind != kind {
		return nil, false
	}
	return r.c, true
}

// remove takes the resource of kind behind h out of the table, for the
// caller to close.
func (s *instanceState) remove(kind resourceKind, h int32) (io.Closer, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.resources[h]
	if !ok || r.kind != kind {
		return nil, false
	}
	delete(s.resources, h)
	s.counts[kind]--
	return r.c, true
}

// handleBase is the last handle given out; reserveHandles makes later
// ones start above n (for an instance restored from a snapshot).
func (s *instanceState) handleBase() int32 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.next
}

func (s *instanceState) reserveHandles(n int32) {
	s.mu.Lock()
	s.next = max(s.next, n)
	s.mu.Unlock()
}

// count is the number of open resources of kind.
func (s *instanceState) count(kind resourceKind) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.counts[kind]
}

// close closes every resource the instance still holds; later adds fail.
func (s *instanceState) close() error {
	s.mu.Lock()
	rs := s.resources
	s.resources, s.closed, s.lockFiles = nil, true, nil
	s.counts = [resourceKinds]int{}
	s.mu.Unlock()
	var err error
	for _, r := range rs {
		err = errors.Join(err, r.c.Close())
	}
	return err
}
