//go:build !linux

package atomicfile

// exchange swaps a and b; without renameat2 it takes two renames.
func exchange(a, b string) error { return exchangeByRenames(a, b) }
