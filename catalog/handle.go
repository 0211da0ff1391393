package catalog

import (
	"context"
	"fmt"
	"reflect"
	"strings"
)

// ParamsPrefix marks a dataset name that is a parameter subtree.
const ParamsPrefix = "params:"

// Ref is a dataset name with the Go type of its data: the untyped view of
// a Handle, used by the runner and by validation.
type Ref interface {
	Name() string
	Type() reflect.Type
}

// Handle is a typed reference to a dataset. Node constructors take
// handles, so a producer and its consumers must agree on T at compile
// time.
type Handle[T any] struct{ name string }

// Declare returns the handle of the dataset called name.
func Declare[T any](name string) Handle[T] { return Handle[T]{name: name} }

// Param returns the handle of a parameter subtree: key "synthetic" reads
// parameters.synthetic, decoded strictly into T before any node runs.
// The whole parameter tree is Param[T]("") (Kedro's "parameters").
func Param[T any](key string) Handle[T] { return Handle[T]{name: ParamsPrefix + key} }

// Name is the dataset name.
func (h Handle[T]) Name() string { return h.name }

// Type is T.
func (h Handle[T]) Type() reflect.Type { return reflect.TypeFor[T]() }

// String is the name, for logs.
func (h Handle[T]) String() string { return h.name }

// IsParam reports whether a dataset name refers to parameters, and
// returns the dotted parameter key.
func IsParam(name string) (string, bool) {
	if name == "parameters" {
		return "", true
	}
	return strings.CutPrefix(name, ParamsPrefix)
}

// Load loads a handle's data from the catalog with its static type.
func Load[T any](ctx context.Context, c *Catalog, h Handle[T]) (T, error) {
	var zero T
	v, err := c.Load(ctx, h.name, h.Type())
	if err != nil {
		return zero, err
	}
	t, ok := v.(T)
	if !ok && v != nil {
		return zero, fmt.Errorf("dataset %q: loaded %T, want %v", h.name, v, h.Type())
	}
	return t, nil
}

// Save saves a handle's data to the catalog.
func Save[T any](ctx context.Context, c *Catalog, h Handle[T], v T) error {
	return c.Save(ctx, h.name, v)
}
