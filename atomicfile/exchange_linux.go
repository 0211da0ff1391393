package atomicfile

import (
	"errors"

	"golang.org/x/sys/unix"
)

// exchange swaps the entries a and b in one step (renameat2 with
// RENAME_EXCHANGE), so neither name is ever missing.
func exchange(a, b string) error {
	err := unix.Renameat2(unix.AT_FDCWD, a, unix.AT_FDCWD, b, unix.RENAME_EXCHANGE)
	if errors.Is(err, unix.ENOSYS) || errors.Is(err, unix.EINVAL) {
		return exchangeByRenames(a, b)
	}
	return err
}
