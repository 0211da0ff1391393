package main

import (
	"bytes"
	"os"
	"testing"
)

// TestGeneratedUpToDate fails when flow/typed_gen.go was edited by hand
// or the generator changed without go generate.
func TestGeneratedUpToDate(t *testing.T) {
	want, err := generate()
	if err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile("../../typed_gen.go")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Error("flow/typed_gen.go is stale: run go generate ./flow")
	}
}
