//go:build !cgo || noblas

package blas

func defaultBackend() Backend { return Gonum{} }
