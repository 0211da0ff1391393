//go:build unix

package viz

import (
	"errors"
	"syscall"
)

// processAlive reports whether pid may still be running (a process owned
// by another user counts as alive).
func processAlive(pid int) bool {
	err := syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}
