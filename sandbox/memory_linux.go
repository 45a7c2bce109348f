package sandbox

import "syscall"

// mapMemory reserves size bytes of zeroed memory. MAP_NORESERVE: the
// address space of every instance's memory_limit is not counted against
// the system's commit limit; only pages in use are.
func mapMemory(size uint64) ([]byte, error) {
	return syscall.Mmap(-1, 0, int(size), syscall.PROT_READ|syscall.PROT_WRITE,
		syscall.MAP_PRIVATE|syscall.MAP_ANONYMOUS|syscall.MAP_NORESERVE)
}

// madvPopulateWrite is MADV_POPULATE_WRITE (Linux 5.14; older kernels
// refuse it, and pages are faulted in one by one as the guest touches them).
const madvPopulateWrite = 23

// populate faults in b's pages in one system call: the guest grew its
// memory to use it, and one fault per 4 KiB page cost more than the rest
// of a Go instance's start (measured: docs/PERFORMANCE.md).
func populate(b []byte) {
	if len(b) > 0 {
		_ = syscall.Madvise(b, madvPopulateWrite)
	}
}

func unmapMemory(b []byte) { _ = syscall.Munmap(b) }
