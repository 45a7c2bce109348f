//go:build !wasip1

package guest

import (
	"fmt"
	"os"
)

// Outside GOOS=wasip1 there is no host: the package still builds, so apps
// can be vetted and unit-tested natively, and Log goes to stderr.
func hostLog(level int32, msg string) { fmt.Fprintf(os.Stderr, "wasgi log %d: %s\n", level, msg) }

// Outside GOOS=wasip1 there is no host to connect through: every dial is
// denied.
func hostNetConnect(string) (int32, uint32)   { return -8, 0 } // abi.ErrDenied
func hostNetRead(int32, []byte, int32) int32  { return -12 }   // abi.ErrBadHandle
func hostNetWrite(int32, []byte, int32) int32 { return -12 }
func hostNetShutdown(int32) int32             { return -12 }
func hostNetClose(int32) int32                { return -12 }
