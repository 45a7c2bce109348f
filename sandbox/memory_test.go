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

// TestSharedMemory: memories mapped from one snapshot start with its
// content, each reads its own writes and no other's, grow past it with
// zeros, count only what is theirs, and are unmapped when freed, never
// kept as spares. The snapshot's file refuses writes (sealed).
func TestSharedMemory(t *testing.T) {
	const page = 64 << 10
	snap := make([]byte, 4*page)
	for i := range snap {
		snap[i] = byte(i*7 + 1)
	}
	spares := newSpareSet(false)
	sm, err := newSharedMemory(snap, &spares.snapshots)
	if err != nil {
		t.Skipf("no shared memory here: %v", err)
	}
	defer sm.close()
	if spares.snapshots.Load() != int64(len(snap)) {
		t.Errorf("%d bytes of snapshots counted, want %d", spares.snapshots.Load(), len(snap))
	}
	if _, err := sm.f.WriteAt([]byte{0}, 0); err == nil {
		t.Error("the snapshot's file accepted a write")
	}
	const limit = 8*page + 192<<10 // a size no other test uses
	alloc := func() (*memoryAllocator, []byte) {
		a := newMemoryAllocator(limit, spares)
		a.src = sm
		a.Reallocate(2 * page) // smaller than the snapshot, as at instantiation
		if a.shared != uint64(len(snap)) {
			t.Fatalf("%d bytes mapped from the snapshot, want %d", a.shared, len(snap))
		}
		return a, a.Reallocate(uint64(len(snap)))
	}
	a, ab := alloc()
	b, bb := alloc()
	defer b.Free()
	if !bytes.Equal(ab, snap) || !bytes.Equal(bb, snap) {
		t.Fatal("a mapped memory does not start with the snapshot")
	}
	for i := range ab {
		ab[i] = 0xEE
	}
	if !bytes.Equal(bb, snap) {
		t.Fatal("b sees a's writes")
	}
	if err := a.remap(); err != nil { // as restore does: a's copies dropped
		t.Fatal(err)
	}
	if !bytes.Equal(ab, snap) {
		t.Fatal("remapped, a does not read the snapshot again")
	}
	if linear := spares.linear.Load(); linear != 0 {
		t.Errorf("%d bytes counted as the instances' own before they grew", linear)
	}
	grown := a.Reallocate(limit)
	if i := bytes.IndexFunc(grown[len(snap):], func(r rune) bool { return r != 0 }); i >= 0 {
		t.Fatalf("byte %d past the snapshot not zero", len(snap)+i)
	}
	if linear := spares.linear.Load(); linear != limit-int64(len(snap)) {
		t.Errorf("%d bytes counted after growth, want %d", linear, limit-len(snap))
	}
	a.Free()
	if spares.linear.Load() != 0 {
		t.Errorf("%d bytes counted after Free", spares.linear.Load())
	}
	spares.Lock()
	n := len(spares.list)
	spares.Unlock()
	if n != 0 {
		t.Error("a memory mapped from a snapshot was kept as a spare")
	}
	sm.close()
	if spares.snapshots.Load() != 0 || !bytes.Equal(bb, snap) {
		t.Error("closing the snapshot's file: not uncounted, or b's mapping lost")
	}
	c := newMemoryAllocator(limit, spares)
	c.src = sm
	defer c.Free()
	if got := c.Reallocate(page); c.shared != 0 || len(got) != page || got[0] != 0 {
		t.Error("a closed snapshot was mapped")
	}
}
