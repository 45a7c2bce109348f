package sandbox

import (
	"bufio"
	"bytes"
	"os"
	"strconv"
	"syscall"
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

// codeResident sums the resident bytes of the process's anonymous
// executable mappings: the machine code wazero compiled (Go's own code is
// the binary's file mapping). About a millisecond for a few hundred
// mappings, read at each metrics scrape.
func codeResident() uint64 {
	f, err := os.Open("/proc/self/smaps")
	if err != nil {
		return 0
	}
	defer f.Close()
	var total uint64
	code := false
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Bytes()
		if len(line) > 0 && (line[0] >= '0' && line[0] <= '9' || line[0] >= 'a' && line[0] <= 'f') {
			// "start-end perms offset dev inode [path]": a mapping's header
			fields := bytes.Fields(line)
			code = len(fields) == 5 && len(fields[1]) == 4 && fields[1][2] == 'x'
			continue
		}
		if code {
			if v, ok := bytes.CutPrefix(line, []byte("Rss:")); ok {
				kb, _ := strconv.ParseUint(string(bytes.TrimSuffix(bytes.TrimSpace(v), []byte(" kB"))), 10, 64)
				total += kb << 10
			}
		}
	}
	return total
}
