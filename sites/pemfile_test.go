package sites

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// TestReadPEMRefusesNonRegular: a CA path naming a device or a FIFO
// is an error at once, never a read that blocks or does not end.
func TestReadPEMRefusesNonRegular(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	big := filepath.Join(dir, "big.pem")
	if err := os.WriteFile(big, make([]byte, MaxPEMFile+1), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"/dev/zero", fifo, dir, big} {
		if _, err := ReadPEM(p); err == nil {
			t.Errorf("ReadPEM(%s) succeeded", p)
		} else if !strings.Contains(err.Error(), p) {
			t.Errorf("ReadPEM(%s): %v does not name the file", p, err)
		}
	}
	ok := filepath.Join(dir, "ok.pem")
	if err := os.WriteFile(ok, []byte("-----BEGIN CERTIFICATE-----\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if b, err := ReadPEM(ok); err != nil || len(b) != 28 {
		t.Errorf("ReadPEM(ok) = %d bytes, %v", len(b), err)
	}
}
