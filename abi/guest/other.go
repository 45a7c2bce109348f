//go:build !wasip1

package guest

import (
	"fmt"
	"os"
)

// Outside GOOS=wasip1 there is no host: the package still builds, so apps
// can be vetted and unit-tested natively, and Log goes to stderr.
func hostLog(level int32, msg string) { fmt.Fprintf(os.Stderr, "wasgi log %d: %s\n", level, msg) }
