//go:build !linux

package sandbox

import (
	"os"

	"github.com/wasgi/wasgi/abi"
)

// lockRange has no open-file-description locks to use outside Linux: it
// refuses, and SQLite reports an I/O error rather than risk the database.
func lockRange(*os.File, int32, int32, int64, int64) int32 { return abi.ErrIO }
