package progress

import (
	"fmt"
	"os"
)

// Logf writes one line of warning or notice to standard error, where
// progress goes: the nodes report through this package, not by
// printing themselves.
func Logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, format+"\n", args...)
}
