package sandbox

import (
	"bufio"
	"bytes"
	"errors"
	"os"
	"strconv"
	"sync/atomic"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

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

// snapshotFile names the memfd of a snapshot, as /proc/self/smaps shows
// the mappings made from it ("/memfd:wasgi-snapshot (deleted)").
const snapshotFile = "wasgi-snapshot"

// newSharedMemory writes b into a new memfd and seals it: no instance, nor
// the host, can change a snapshot after this, only its private copies of
// pages. live counts its size until it is closed.
func newSharedMemory(b []byte, live *atomic.Int64) (*sharedMemory, error) {
	fd, err := unix.MemfdCreate(snapshotFile, unix.MFD_CLOEXEC|unix.MFD_ALLOW_SEALING)
	if err != nil {
		return nil, err
	}
	f := os.NewFile(uintptr(fd), "memfd:"+snapshotFile)
	if _, err := f.Write(b); err != nil {
		f.Close()
		return nil, err
	}
	const seals = unix.F_SEAL_WRITE | unix.F_SEAL_SHRINK | unix.F_SEAL_GROW | unix.F_SEAL_SEAL
	if _, err := unix.FcntlInt(f.Fd(), unix.F_ADD_SEALS, seals); err != nil {
		f.Close()
		return nil, err
	}
	live.Add(int64(len(b)))
	return &sharedMemory{f: f, size: uint64(len(b)), live: live}, nil
}

// mapOver maps the snapshot over the start of b, a mapping of mapMemory,
// privately: reads see the snapshot's pages, a write copies the page for
// this mapping alone. Mapped again over itself, it drops those copies.
// An error past the mmap call may leave that range unmapped: b must not
// be used then.
func (m *sharedMemory) mapOver(b []byte) error {
	if uint64(len(b)) < m.size || m.size == 0 {
		return errNotShared
	}
	rc, err := m.f.SyscallConn()
	if err != nil {
		return err
	}
	var merr error
	// Control holds the descriptor open for the call, even against a
	// close from another goroutine.
	if err := rc.Control(func(fd uintptr) {
		_, merr = unix.MmapPtr(int(fd), 0, unsafe.Pointer(unsafe.SliceData(b)), uintptr(m.size),
			unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_FIXED|unix.MAP_NORESERVE)
	}); err != nil {
		return errors.Join(errNotShared, err) // closed: nothing was mapped
	}
	return merr
}

// smapsTotals reads /proc/self/smaps for what MemoryStats reports: code,
// the resident bytes of the process's anonymous executable mappings (the
// machine code wazero compiled; Go's own code is the binary's file
// mapping), and copied, the pages instances wrote in the memory they map
// from snapshots (their private copies: "Anonymous" of those mappings).
// About a millisecond for a few hundred mappings, read at each metrics
// scrape.
func smapsTotals() (code, copied uint64) {
	f, err := os.Open("/proc/self/smaps")
	if err != nil {
		return 0, 0
	}
	defer f.Close()
	var total *uint64
	field := []byte("Rss:")
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Bytes()
		if len(line) > 0 && (line[0] >= '0' && line[0] <= '9' || line[0] >= 'a' && line[0] <= 'f') {
			// "start-end perms offset dev inode [path]": a mapping's header
			fields := bytes.Fields(line)
			switch {
			case len(fields) == 5 && len(fields[1]) == 4 && fields[1][2] == 'x':
				total, field = &code, []byte("Rss:")
			case len(fields) >= 6 && bytes.Equal(fields[5], []byte("/memfd:"+snapshotFile)):
				total, field = &copied, []byte("Anonymous:")
			default:
				total = nil
			}
			continue
		}
		if total != nil {
			if v, ok := bytes.CutPrefix(line, field); ok {
				kb, _ := strconv.ParseUint(string(bytes.TrimSuffix(bytes.TrimSpace(v), []byte(" kB"))), 10, 64)
				*total += kb << 10
			}
		}
	}
	return code, copied
}
