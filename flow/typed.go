package flow

// The typed node constructors live in typed_gen.go, written by
// internal/gentyped: positional ones for every shape up to five inputs
// and three outputs (Node1, Node2x2, Sink1, ...), and the named form
// Wire<shape>(name, fn).Reads(...).Writes(...) for the shapes whose
// argument list is long. To add a named shape, list it in gentyped's
// wired and run go generate.

//go:generate go run ./internal/gentyped typed_gen.go
