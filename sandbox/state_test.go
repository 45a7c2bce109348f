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
