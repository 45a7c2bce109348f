package sandbox

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/tetratelabs/wazero/experimental"
)

// memoryAllocator backs one instance's linear memory and enforces its
// memory_limit: growing past it fails (memory.grow returns -1 in the
// guest, as the Wasm spec allows, and the guest decides: Go throws "out of
// memory", a trap). A per-instance limit, unlike wazero's per-runtime
// WithMemoryLimitPages.
//
// On Linux the memory is an anonymous mapping of memory_limit bytes of
// address space (memory_linux.go): growing it moves and copies nothing,
// each growth is faulted in with one system call, and none of it is on the
// Go heap, so instances do not drive the host's garbage collector.
// Elsewhere it is a Go slice grown by half each time.
//
// Unmapping memory under running guest code would crash the host, and
// wazero frees an instance's memory when the instance is closed, which
// close-on-context-done and a runtime closing at shutdown may do from
// another goroutine while the guest runs. So the host marks the spans in
// which guest code runs (inUse), and a Free during one is carried out at
// its end.
//
// An instance started from a snapshot (snapshot.go) has src: its memory
// is the snapshot's file mapped copy-on-write over the start of the
// mapping (sharedMemory.mapOver), so it starts with the snapshot's
// content, shares its pages with every other instance started from it,
// and owns only the pages it writes. Such a memory is unmapped when
// freed, never kept as a spare: clearing it would write, and so copy,
// every page.
type memoryAllocator struct {
	spares *spareSet
	limit  uint64
	buf    []byte
	mapped bool          // buf is a mapping of limit bytes
	size   uint64        // of the mapping, faulted in (or mapped from src)
	src    *sharedMemory // the snapshot mapped, until restore remaps it
	shared uint64        // bytes at the start of buf mapped from a snapshot

	mu          sync.Mutex
	busy, freed bool
}

func newMemoryAllocator(limit uint64, spares *spareSet) *memoryAllocator {
	return &memoryAllocator{limit: limit, spares: spares}
}

// Allocate implements experimental.MemoryAllocator: an allocator serves
// one instance.
func (a *memoryAllocator) Allocate(_, _ uint64) experimental.LinearMemory { return a }

// Reallocate implements experimental.LinearMemory.
func (a *memoryAllocator) Reallocate(size uint64) []byte {
	if size > a.limit {
		return nil
	}
	if a.buf == nil && size > 0 && a.src != nil {
		if b, err := mapMemory(a.limit); err == nil {
			if err := a.src.mapOver(b); err == nil {
				a.buf, a.mapped, a.size, a.shared = b, true, a.src.size, a.src.size
			} else {
				unmapMemory(b)
			}
		}
		if a.shared == 0 {
			a.src = nil // restore copies the snapshot instead
		}
	}
	if a.buf == nil && size > 0 {
		if b, touched := a.spares.take(a.limit); b != nil {
			a.buf, a.mapped, a.size = b, true, touched
			a.spares.linear.Add(int64(touched))
		} else if b, err := mapMemory(a.limit); err == nil {
			a.buf, a.mapped = b, true
		}
	}
	if a.mapped {
		if size > a.size {
			populate(a.buf[a.size:size])
			a.spares.linear.Add(int64(size - a.size))
			a.size = size
			a.spares.Lock()
			a.spares.want[a.limit] = max(a.spares.want[a.limit], size)
			a.spares.Unlock()
		}
		return a.buf[:size:size]
	}
	if size <= uint64(cap(a.buf)) {
		a.buf = a.buf[:size]
		return a.buf
	}
	// Grow by at least half so that a guest growing a page at a time does
	// not copy its memory each time.
	b := make([]byte, size, min(max(size, uint64(cap(a.buf))*3/2), a.limit))
	a.spares.linear.Add(int64(cap(b) - cap(a.buf)))
	copy(b, a.buf)
	a.buf = b
	return b
}

// remap maps the snapshot once more over the memory it was mapped over,
// before any guest code ran: instantiation wrote the module's active data
// segments over it, and this drops those page copies, so the instance
// owns none of the snapshot's pages yet and its memory is the snapshot
// byte for byte. errNotShared: the memory was not mapped from it (restore
// copies it); another error leaves the memory unusable.
func (a *memoryAllocator) remap() error {
	if a == nil || a.src == nil {
		return errNotShared
	}
	src := a.src
	a.src = nil
	return src.mapOver(a.buf)
}

// Free implements experimental.LinearMemory.
func (a *memoryAllocator) Free() {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.freed = true
	if !a.busy {
		a.release()
	}
}

func (a *memoryAllocator) release() {
	if a.mapped {
		a.spares.linear.Add(-int64(a.size - a.shared))
		if a.shared > 0 {
			unmapMemory(a.buf)
		} else {
			a.spares.put(a.buf, a.size)
		}
		a.mapped, a.shared = false, 0
	} else {
		a.spares.linear.Add(-int64(cap(a.buf)))
	}
	a.buf = nil
}

// Spare mappings. Faulting in a Go instance's ~10 MB of memory is most of
// the time it takes to create one (5–6 of 7 ms here, measured:
// docs/PERFORMANCE.md), and an instance per request (CGI) or instances
// recycled by max_requests would pay it again and again. So released
// mappings are kept with their pages and zeroed when taken (clearing
// resident memory is several times cheaper than faulting it in), and after
// each instance creation a background goroutine, at low priority, tops up
// warmSpares mappings faulted in as far as instances of that memory_limit
// have grown: the first request of a site no request has used yet, or the
// next CGI request, then finds its memory ready.
//
// Spares that no instance took for spareIdle are unmapped: they serve
// instance creation while it goes on (CGI, recycling, refills), and an
// idle host should not keep 40-64 MB of them (8 spares of a Go guest, 2
// of a Django app) for a few milliseconds off its next instance's start.
const (
	warmSpares    = 2        // kept ready per memory_limit
	maxSpares     = 8        // kept in all
	maxSpareBytes = 64 << 20 // faulted-in memory kept, over all spares
)

// spareIdle is how long a spare is kept untaken; a variable for tests.
var spareIdle = time.Minute

// spareSet holds a runtime's spare mappings.
type spareSet struct {
	renice bool // refills run at low priority (see nice_linux.go)

	sync.Mutex
	list      []spare
	bytes     uint64
	want      map[uint64]uint64 // by limit: the most memory an instance faulted in
	refilling map[uint64]bool   // by limit: a refill is running
	trimming  bool              // a trim is scheduled

	linear    atomic.Int64 // bytes of the live instances' memories faulted in (or allocated), past their snapshot's
	snapshots atomic.Int64 // bytes of the open snapshots' memory
}

func newSpareSet(renice bool) *spareSet {
	return &spareSet{renice: renice, want: map[uint64]uint64{}, refilling: map[uint64]bool{}}
}

type spare struct {
	buf     []byte
	touched uint64
	since   time.Time // put in the set
}

// refill tops up the spares of a's memory_limit in the background, once
// an instance of it has grown; not after an instance mapped from a
// snapshot, as those take no spare.
func (a *memoryAllocator) refill() {
	if a == nil || !a.mapped || a.shared > 0 {
		return
	}
	limit, spares := a.limit, a.spares
	spares.Lock()
	if spares.refilling[limit] || spares.want[limit] == 0 {
		spares.Unlock()
		return
	}
	spares.refilling[limit] = true
	spares.Unlock()
	go deprioritized(spares.renice, func() {
		defer func() {
			spares.Lock()
			spares.refilling[limit] = false
			spares.Unlock()
		}()
		for {
			spares.Lock()
			n := 0
			for _, s := range spares.list {
				if uint64(len(s.buf)) == limit {
					n++
				}
			}
			size := spares.want[limit]
			ok := n < warmSpares && len(spares.list) < maxSpares && spares.bytes+size <= maxSpareBytes
			spares.Unlock()
			if !ok {
				return
			}
			b, err := mapMemory(limit)
			if err != nil {
				return
			}
			populate(b[:size])
			// Writing the pages once more is what makes them fast to
			// write again: on the VMs measured here the first write to
			// freshly populated memory still cost 1.3 ms per MB, the
			// second 0.02 ms (the hypervisor backs guest memory lazily).
			clear(b[:size])
			spares.put(b, size)
		}
	})
}

// take returns a zeroed spare mapping of limit bytes and how much of it
// is faulted in, or nil.
func (spares *spareSet) take(limit uint64) ([]byte, uint64) {
	spares.Lock()
	var s spare
	for i := len(spares.list) - 1; i >= 0; i-- {
		if uint64(len(spares.list[i].buf)) == limit {
			s = spares.list[i]
			spares.list = append(spares.list[:i], spares.list[i+1:]...)
			spares.bytes -= s.touched
			break
		}
	}
	spares.Unlock()
	clear(s.buf[:s.touched])
	return s.buf, s.touched
}

// put keeps a released mapping for take, or unmaps it.
func (spares *spareSet) put(buf []byte, touched uint64) {
	spares.Lock()
	if len(spares.list) < maxSpares && spares.bytes+touched <= maxSpareBytes {
		spares.list = append(spares.list, spare{buf, touched, time.Now()})
		spares.bytes += touched
		buf = nil
		if !spares.trimming {
			spares.trimming = true
			time.AfterFunc(spareIdle, spares.trim)
		}
	}
	spares.Unlock()
	if buf != nil {
		unmapMemory(buf)
	}
}

// trim unmaps the spares that waited spareIdle, and looks again when the
// next one will have.
func (spares *spareSet) trim() {
	spares.Lock()
	var drop [][]byte
	var next time.Time // when the oldest spare kept expires
	for i := len(spares.list) - 1; i >= 0; i-- {
		s := spares.list[i]
		if at := s.since.Add(spareIdle); time.Now().Before(at) {
			if next.IsZero() || at.Before(next) {
				next = at
			}
			continue
		}
		drop = append(drop, s.buf)
		spares.bytes -= s.touched
		spares.list = append(spares.list[:i], spares.list[i+1:]...)
	}
	if spares.trimming = !next.IsZero(); spares.trimming {
		time.AfterFunc(time.Until(next)+time.Millisecond, spares.trim)
	}
	spares.Unlock()
	for _, b := range drop {
		unmapMemory(b)
	}
}

// inUse runs f, in which guest code may run on the memory, deferring a
// Free until f returns. a may be nil (no allocator: wazero's own memory).
func (a *memoryAllocator) inUse(f func()) {
	if a == nil {
		f()
		return
	}
	a.mu.Lock()
	a.busy = true
	a.mu.Unlock()
	defer func() {
		a.mu.Lock()
		a.busy = false
		if a.freed {
			a.release()
		}
		a.mu.Unlock()
	}()
	f()
}

// MemoryStats says where the host's memory goes, in bytes.
type MemoryStats struct {
	// Linear is the live instances' linear memories, as far as the guests
	// grew them (their memory_limit is address space, not memory); of an
	// instance started from a shared snapshot, the pages it wrote (its
	// private copies, Linux) and its growth past the snapshot.
	Linear uint64
	// Snapshots is the memory of the snapshots instances share
	// (snapshot.go): a sealed memfd each, off the Go heap. A snapshot that
	// is a copy (not Linux) is Go heap, not counted here.
	Snapshots uint64
	// Spares is memory kept faulted in for the next instances (see
	// spareSet).
	Spares uint64
	// Code is the machine code wazero compiled, resident: on Linux the
	// process's anonymous executable mappings; 0 elsewhere.
	Code uint64
}

// MemoryStats returns where the runtime's memory goes.
func (r *Runtime) MemoryStats() MemoryStats {
	r.spares.Lock()
	spare := r.spares.bytes
	r.spares.Unlock()
	code, copied := smapsTotals()
	return MemoryStats{
		Linear: uint64(max(0, r.spares.linear.Load())) + copied, Snapshots: uint64(max(0, r.spares.snapshots.Load())),
		Spares: spare, Code: code,
	}
}
