package sandbox

import (
	"errors"
	"testing"
)

type closeCounter struct{ n *int }

func (c closeCounter) Close() error { *c.n++; return nil }

func TestInstanceStateResources(t *testing.T) {
	s := &instanceState{}
	closed := 0
	h1, err := s.add(0, closeCounter{&closed}, 2)
	if err != nil || h1 != 1 {
		t.Fatalf("first add = %d, %v", h1, err)
	}
	h2, _ := s.add(0, closeCounter{&closed}, 2)
	if _, err := s.add(0, closeCounter{&closed}, 2); !errors.Is(err, errTooManyResources) {
		t.Fatalf("add past the limit: %v", err)
	}
	if s.count(0) != 2 {
		t.Fatalf("count = %d", s.count(0))
	}
	if c, ok := s.remove(0, h1); !ok || c == nil {
		t.Fatal("remove of a live handle failed")
	}
	if _, ok := s.get(0, h1); ok {
		t.Fatal("a removed handle still resolves")
	}
	h3, err := s.add(0, closeCounter{&closed}, 2)
	if err != nil || h3 == h1 {
		t.Fatalf("handle reused: %d (was %d), %v", h3, h1, err)
	}
	if _, ok := s.get(0, h2); !ok {
		t.Fatal("a live handle does not resolve")
	}
	if err := s.close(); err != nil || closed != 2 {
		t.Fatalf("close: %v, closed %d, want the 2 still open", err, closed)
	}
	if _, err := s.add(0, closeCounter{&closed}, 0); !errors.Is(err, errStateClosed) {
		t.Fatalf("add after close: %v", err)
	}
}

// TestRestoredHandlesStartAboveTheSnapshot: an instance copied from a
// snapshot never hands out a handle its source's memory may still hold.
func TestRestoredHandlesStartAboveTheSnapshot(t *testing.T) {
	src, closed := &instanceState{}, 0
	for range 3 {
		src.add(resourceConn, closeCounter{&closed}, 0)
	}
	snap := &snapshot{handles: src.handleBase()}
	cp := &instanceState{}
	cp.reserveHandles(snap.handles)
	h, err := cp.add(resourceConn, closeCounter{&closed}, 0)
	if err != nil || h <= 3 {
		t.Fatalf("first handle of a copy = %d, %v; want above the source's 3", h, err)
	}
	if _, ok := cp.get(resourceConn, 1); ok {
		t.Fatal("a stale handle resolves in the copy")
	}
}
