//go:build !linux

package viz

func exchange(a, b string) error { return errExchangeUnsupported }
