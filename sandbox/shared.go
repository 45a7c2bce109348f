package sandbox

import (
	"errors"
	"os"
	"sync/atomic"
)

// sharedMemory is a snapshot's memory as a sealed file (a memfd, Linux):
// instances map it copy-on-write (memoryAllocator.src), so they share its
// pages until they write them, and none of it is on the Go heap.
//
// Its descriptor is closed by close or, once the snapshot is unreachable,
// by the cleanup takeSnapshot registers; mappings made from it stay valid
// after that, and its pages go back to the OS with the last one.
type sharedMemory struct {
	f      *os.File
	size   uint64
	closed atomic.Bool
	live   *atomic.Int64 // spareSet.snapshots: bytes of the runtime's open snapshots
}

// errNotShared: the memory was not mapped from the snapshot (restore then
// copies it).
var errNotShared = errors.New("snapshot: memory not shared")

// close closes the file once; instances mapped from it keep their pages.
func (m *sharedMemory) close() {
	if m.closed.CompareAndSwap(false, true) {
		m.f.Close()
		m.live.Add(-int64(m.size))
	}
}
