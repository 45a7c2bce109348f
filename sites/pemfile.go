package sites

import (
	"fmt"
	"io"
	"os"
)

// MaxPEMFile bounds what ReadPEM reads: a CA bundle of every public root
// is about 200 KiB, so 4 MiB is generous and still keeps a mistyped path
// (a device, a database) from eating memory.
const MaxPEMFile = 4 << 20

// ReadPEM reads a certificate, key or CA file named by the config. It
// accepts regular files only (a FIFO or /dev/zero named by mistake would
// block or never end) and at most MaxPEMFile bytes.
func ReadPEM(path string) ([]byte, error) {
	// Stat first: opening a FIFO blocks until someone writes to it.
	if fi, err := os.Stat(path); err != nil {
		return nil, err
	} else if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("%s is not a regular file", path)
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("%s is not a regular file", path)
	}
	if fi.Size() > MaxPEMFile {
		return nil, fmt.Errorf("%s is %d bytes, more than the %d a PEM file may have", path, fi.Size(), MaxPEMFile)
	}
	return io.ReadAll(io.LimitReader(f, MaxPEMFile+1))
}
