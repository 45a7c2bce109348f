package sandbox

import (
	"errors"
	"os"

	"golang.org/x/sys/unix"

	"github.com/wasgi/wasgi/abi"
)

// lockRange applies one file_lock command to f as an open-file-description
// lock: held by this descriptor, so by this instance alone.
func lockRange(f *os.File, cmd, typ int32, start, n int64) int32 {
	lk := unix.Flock_t{Type: lockTypes[typ], Whence: 0, Start: start, Len: n}
	if cmd == abi.LockTest {
		if lk.Type == unix.F_UNLCK {
			lk.Type = unix.F_WRLCK // test against any lock
		}
		if err := unix.FcntlFlock(f.Fd(), unix.F_OFD_GETLK, &lk); err != nil {
			return abi.ErrIO
		}
		switch lk.Type {
		case unix.F_RDLCK:
			return abi.LockRead
		case unix.F_WRLCK:
			return abi.LockWrite
		}
		return 0
	}
	err := unix.FcntlFlock(f.Fd(), unix.F_OFD_SETLK, &lk)
	switch {
	case err == nil:
		return 0
	case errors.Is(err, unix.EAGAIN), errors.Is(err, unix.EACCES):
		return abi.ErrLocked
	}
	return abi.ErrIO
}

var lockTypes = [...]int16{abi.LockUnlock: unix.F_UNLCK, abi.LockRead: unix.F_RDLCK, abi.LockWrite: unix.F_WRLCK}
