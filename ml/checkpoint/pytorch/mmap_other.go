//go:build !linux

package pytorch

import "os"

// mapFile reads path into memory where memory maps are not available.
func mapFile(path string) ([]byte, func(), error) {
	b, err := os.ReadFile(path)
	return b, func() {}, err
}
