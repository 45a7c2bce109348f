package sandbox

import (
	"bytes"
	"testing"
	"time"
	"unsafe"
)

// TestMemoryLimitAndGrowth: memory grows in place up to its limit and no
// further.
func TestMemoryLimitAndGrowth(t *testing.T) {
	spares := newSpareSet(false)
	const page = 64 << 10
	a := newMemoryAllocator(4*page, spares)
	defer a.Free()
	b := a.Reallocate(page)
	if len(b) != page {
		t.Fatalf("len %d", len(b))
	}
	b[page-1] = 7
	b2 := a.Reallocate(4 * page)
	if len(b2) != 4*page || b2[page-1] != 7 {
		t.Fatalf("grown: len %d, kept %d", len(b2), b2[page-1])
	}
	if a.mapped && unsafe.SliceData(b2) != unsafe.SliceData(b) {
		t.Error("a mapped memory moved")
	}
	if a.Reallocate(5*page) != nil {
		t.Error("grew past its limit")
	}
}

// TestSpareMemoryIsZeroed: memory released by one instance and reused by
// the next (of any app) reads as zeros, however far the first one grew.
func TestSpareMemoryIsZeroed(t *testing.T) {
	spares := newSpareSet(false)
	const limit = 1<<20 + 64<<10 // a size no other test uses
	a := newMemoryAllocator(limit, spares)
	b := a.Reallocate(limit)
	if !a.mapped {
		t.Skip("memory is not mapped on this platform")
	}
	for i := range b {
		b[i] = 0xAA
	}
	a.Free()
	c := newMemoryAllocator(limit, spares)
	defer c.Free()
	got := c.Reallocate(64 << 10)
	if unsafe.SliceData(got) != unsafe.SliceData(b) {
		t.Fatal("the spare was not reused")
	}
	got = c.Reallocate(limit)
	if i := bytes.IndexFunc(got, func(r rune) bool { return r != 0 }); i >= 0 {
		t.Fatalf("byte %d of a reused memory not zero", i)
	}
}

// TestMemoryFreedWhileInUse: a Free while guest code runs (wazero closing
// the module from another goroutine) waits for the code to return.
func TestMemoryFreedWhileInUse(t *testing.T) {
	spares := newSpareSet(false)
	a := newMemoryAllocator(1<<20, spares)
	b := a.Reallocate(1 << 20)
	a.inUse(func() {
		a.Free()
		for i := range b { // would fault if the memory were unmapped now
			b[i] = 1
		}
		if a.buf == nil {
			t.Error("released while in use")
		}
	})
	if a.buf != nil || a.mapped {
		t.Error("not released after use")
	}
}

// TestSpareTrim: spares that nothing took for spareIdle are unmapped
// (before: kept for the life of the process), each when its own time
// comes.
func TestSpareTrim(t *testing.T) {
	spares := newSpareSet(false)
	const limit = 1<<20 + 128<<10 // a size no other test uses
	var allocs []*memoryAllocator
	for range 5 { // five instances at once, then none
		a := newMemoryAllocator(limit, spares)
		a.Reallocate(256 << 10)
		if !a.mapped {
			t.Skip("memory is not mapped on this platform")
		}
		allocs = append(allocs, a)
	}
	for _, a := range allocs {
		a.Free()
	}
	state := func() (n int, bytes uint64, trimming bool) {
		spares.Lock()
		defer spares.Unlock()
		return len(spares.list), spares.bytes, spares.trimming
	}
	if n, _, trimming := state(); n != 5 || !trimming {
		t.Fatalf("%d spares kept (trim scheduled: %v), want 5 and a trim", n, trimming)
	}
	// Four of them waited long enough (spareIdle is a minute: no timer
	// fires during the test).
	spares.Lock()
	for i := range 4 {
		spares.list[i].since = time.Now().Add(-spareIdle - time.Second)
	}
	spares.Unlock()
	spares.trim()
	if n, b, trimming := state(); n != 1 || b != 256<<10 || !trimming {
		t.Fatalf("after the first trim: %d spares, %d bytes, trim scheduled %v; want the newest and a trim for it", n, b, trimming)
	}
	spares.Lock()
	spares.list[0].since = time.Now().Add(-spareIdle - time.Second)
	spares.Unlock()
	spares.trim()
	if n, b, trimming := state(); n != 0 || b != 0 || trimming {
		t.Fatalf("after the second trim: %d spares, %d bytes, trim scheduled %v", n, b, trimming)
	}
}
