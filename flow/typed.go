package flow

import (
	"context"

	"mmc/catalog"
)

// Node0 makes a node from a function with no inputs and one output.
func Node0[O any](name string, fn func(ctx context.Context) (O, error), outO catalog.Handle[O]) *Node {
	return newNode(name, fn, []catalog.Ref{}, []catalog.Ref{outO}, func(ctx context.Context, in []any) ([]any, error) {
		r0, err := fn(ctx)
		return []any{r0}, err
	})
}

// Node0x2 makes a node from a function with no inputs and two outputs.
func Node0x2[O1, O2 any](name string, fn func(ctx context.Context) (O1, O2, error), outO1 catalog.Handle[O1], outO2 catalog.Handle[O2]) *Node {
	return newNode(name, fn, []catalog.Ref{}, []catalog.Ref{outO1, outO2}, func(ctx context.Context, in []any) ([]any, error) {
		r0, r1, err := fn(ctx)
		return []any{r0, r1}, err
	})
}

// Node0x3 makes a node from a function with no inputs and three outputs.
func Node0x3[O1, O2, O3 any](name string, fn func(ctx context.Context) (O1, O2, O3, error), outO1 catalog.Handle[O1], outO2 catalog.Handle[O2], outO3 catalog.Handle[O3]) *Node {
	return newNode(name, fn, []catalog.Ref{}, []catalog.Ref{outO1, outO2, outO3}, func(ctx context.Context, in []any) ([]any, error) {
		r0, r1, r2, err := fn(ctx)
		return []any{r0, r1, r2}, err
	})
}

// Sink1 makes a node from a function with one input and no outputs.
func Sink1[A any](name string, fn func(ctx context.Context, a A) error, inA catalog.Handle[A]) *Node {
	return newNode(name, fn, []catalog.Ref{inA}, []catalog.Ref{}, func(ctx context.Context, in []any) ([]any, error) {
		return nil, fn(ctx, as[A](in[0]))
	})
}

// Node1 makes a node from a function with one input and one output.
func Node1[A, O any](name string, fn func(ctx context.Context, a A) (O, error), inA catalog.Handle[A], outO catalog.Handle[O]) *Node {
	return newNode(name, fn, []catalog.Ref{inA}, []catalog.Ref{outO}, func(ctx context.Context, in []any) ([]any, error) {
		r0, err := fn(ctx, as[A](in[0]))
		return []any{r0}, err
	})
}

// Node1x2 makes a node from a function with one input and two outputs.
func Node1x2[A, O1, O2 any](name string, fn func(ctx context.Context, a A) (O1, O2, error), inA catalog.Handle[A], outO1 catalog.Handle[O1], outO2 catalog.Handle[O2]) *Node {
	return newNode(name, fn, []catalog.Ref{inA}, []catalog.Ref{outO1, outO2}, func(ctx context.Context, in []any) ([]any, error) {
		r0, r1, err := fn(ctx, as[A](in[0]))
		return []any{r0, r1}, err
	})
}

// Node1x3 makes a node from a function with one input and three outputs.
func Node1x3[A, O1, O2, O3 any](name string, fn func(ctx context.Context, a A) (O1, O2, O3, error), inA catalog.Handle[A], outO1 catalog.Handle[O1], outO2 catalog.Handle[O2], outO3 catalog.Handle[O3]) *Node {
	return newNode(name, fn, []catalog.Ref{inA}, []catalog.Ref{outO1, outO2, outO3}, func(ctx context.Context, in []any) ([]any, error) {
		r0, r1, r2, err := fn(ctx, as[A](in[0]))
		return []any{r0, r1, r2}, err
	})
}

// Sink2 makes a node from a function with two inputs and no outputs.
func Sink2[A, B any](name string, fn func(ctx context.Context, a A, b B) error, inA catalog.Handle[A], inB catalog.Handle[B]) *Node {
	return newNode(name, fn, []catalog.Ref{inA, inB}, []catalog.Ref{}, func(ctx context.Context, in []any) ([]any, error) {
		return nil, fn(ctx, as[A](in[0]), as[B](in[1]))
	})
}

// Node2 makes a node from a function with two inputs and one output.
func Node2[A, B, O any](name string, fn func(ctx context.Context, a A, b B) (O, error), inA catalog.Handle[A], inB catalog.Handle[B], outO catalog.Handle[O]) *Node {
	return newNode(name, fn, []catalog.Ref{inA, inB}, []catalog.Ref{outO}, func(ctx context.Context, in []any) ([]any, error) {
		r0, err := fn(ctx, as[A](in[0]), as[B](in[1]))
		return []any{r0}, err
	})
}

// Node2x2 makes a node from a function with two inputs and two outputs.
func Node2x2[A, B, O1, O2 any](name string, fn func(ctx context.Context, a A, b B) (O1, O2, error), inA catalog.Handle[A], inB catalog.Handle[B], outO1 catalog.Handle[O1], outO2 catalog.Handle[O2]) *Node {
	return newNode(name, fn, []catalog.Ref{inA, inB}, []catalog.Ref{outO1, outO2}, func(ctx context.Context, in []any) ([]any, error) {
		r0, r1, err := fn(ctx, as[A](in[0]), as[B](in[1]))
		return []any{r0, r1}, err
	})
}

// Node2x3 makes a node from a function with two inputs and three outputs.
func Node2x3[A, B, O1, O2, O3 any](name string, fn func(ctx context.Context, a A, b B) (O1, O2, O3, error), inA catalog.Handle[A], inB catalog.Handle[B], outO1 catalog.Handle[O1], outO2 catalog.Handle[O2], outO3 catalog.Handle[O3]) *Node {
	return newNode(name, fn, []catalog.Ref{inA, inB}, []catalog.Ref{outO1, outO2, outO3}, func(ctx context.Context, in []any) ([]any, error) {
		r0, r1, r2, err := fn(ctx, as[A](in[0]), as[B](in[1]))
		return []any{r0, r1, r2}, err
	})
}

// Sink3 makes a node from a function with three inputs and no outputs.
func Sink3[A, B, C any](name string, fn func(ctx context.Context, a A, b B, c C) error, inA catalog.Handle[A], inB catalog.Handle[B], inC catalog.Handle[C]) *Node {
	return newNode(name, fn, []catalog.Ref{inA, inB, inC}, []catalog.Ref{}, func(ctx context.Context, in []any) ([]any, error) {
		return nil, fn(ctx, as[A](in[0]), as[B](in[1]), as[C](in[2]))
	})
}

// Node3 makes a node from a function with three inputs and one output.
func Node3[A, B, C, O any](name string, fn func(ctx context.Context, a A, b B, c C) (O, error), inA catalog.Handle[A], inB catalog.Handle[B], inC catalog.Handle[C], outO catalog.Handle[O]) *Node {
	return newNode(name, fn, []catalog.Ref{inA, inB, inC}, []catalog.Ref{outO}, func(ctx context.Context, in []any) ([]any, error) {
		r0, err := fn(ctx, as[A](in[0]), as[B](in[1]), as[C](in[2]))
		return []any{r0}, err
	})
}

// Node3x2 makes a node from a function with three inputs and two outputs.
func Node3x2[A, B, C, O1, O2 any](name string, fn func(ctx context.Context, a A, b B, c C) (O1, O2, error), inA catalog.Handle[A], inB catalog.Handle[B], inC catalog.Handle[C], outO1 catalog.Handle[O1], outO2 catalog.Handle[O2]) *Node {
	return newNode(name, fn, []catalog.Ref{inA, inB, inC}, []catalog.Ref{outO1, outO2}, func(ctx context.Context, in []any) ([]any, error) {
		r0, r1, err := fn(ctx, as[A](in[0]), as[B](in[1]), as[C](in[2]))
		return []any{r0, r1}, err
	})
}

// Node3x3 makes a node from a function with three inputs and three outputs.
func Node3x3[A, B, C, O1, O2, O3 any](name string, fn func(ctx context.Context, a A, b B, c C) (O1, O2, O3, error), inA catalog.Handle[A], inB catalog.Handle[B], inC catalog.Handle[C], outO1 catalog.Handle[O1], outO2 catalog.Handle[O2], outO3 catalog.Handle[O3]) *Node {
	return newNode(name, fn, []catalog.Ref{inA, inB, inC}, []catalog.Ref{outO1, outO2, outO3}, func(ctx context.Context, in []any) ([]any, error) {
		r0, r1, r2, err := fn(ctx, as[A](in[0]), as[B](in[1]), as[C](in[2]))
		return []any{r0, r1, r2}, err
	})
}

// Sink4 makes a node from a function with four inputs and no outputs.
func Sink4[A, B, C, D any](name string, fn func(ctx context.Context, a A, b B, c C, d D) error, inA catalog.Handle[A], inB catalog.Handle[B], inC catalog.Handle[C], inD catalog.Handle[D]) *Node {
	return newNode(name, fn, []catalog.Ref{inA, inB, inC, inD}, []catalog.Ref{}, func(ctx context.Context, in []any) ([]any, error) {
		return nil, fn(ctx, as[A](in[0]), as[B](in[1]), as[C](in[2]), as[D](in[3]))
	})
}

// Node4 makes a node from a function with four inputs and one output.
func Node4[A, B, C, D, O any](name string, fn func(ctx context.Context, a A, b B, c C, d D) (O, error), inA catalog.Handle[A], inB catalog.Handle[B], inC catalog.Handle[C], inD catalog.Handle[D], outO catalog.Handle[O]) *Node {
	return newNode(name, fn, []catalog.Ref{inA, inB, inC, inD}, []catalog.Ref{outO}, func(ctx context.Context, in []any) ([]any, error) {
		r0, err := fn(ctx, as[A](in[0]), as[B](in[1]), as[C](in[2]), as[D](in[3]))
		return []any{r0}, err
	})
}

// Node4x2 makes a node from a function with four inputs and two outputs.
func Node4x2[A, B, C, D, O1, O2 any](name string, fn func(ctx context.Context, a A, b B, c C, d D) (O1, O2, error), inA catalog.Handle[A], inB catalog.Handle[B], inC catalog.Handle[C], inD catalog.Handle[D], outO1 catalog.Handle[O1], outO2 catalog.Handle[O2]) *Node {
	return newNode(name, fn, []catalog.Ref{inA, inB, inC, inD}, []catalog.Ref{outO1, outO2}, func(ctx context.Context, in []any) ([]any, error) {
		r0, r1, err := fn(ctx, as[A](in[0]), as[B](in[1]), as[C](in[2]), as[D](in[3]))
		return []any{r0, r1}, err
	})
}

// Node4x3 makes a node from a function with four inputs and three outputs.
func Node4x3[A, B, C, D, O1, O2, O3 any](name string, fn func(ctx context.Context, a A, b B, c C, d D) (O1, O2, O3, error), inA catalog.Handle[A], inB catalog.Handle[B], inC catalog.Handle[C], inD catalog.Handle[D], outO1 catalog.Handle[O1], outO2 catalog.Handle[O2], outO3 catalog.Handle[O3]) *Node {
	return newNode(name, fn, []catalog.Ref{inA, inB, inC, inD}, []catalog.Ref{outO1, outO2, outO3}, func(ctx context.Context, in []any) ([]any, error) {
		r0, r1, r2, err := fn(ctx, as[A](in[0]), as[B](in[1]), as[C](in[2]), as[D](in[3]))
		return []any{r0, r1, r2}, err
	})
}

// Sink5 makes a node from a function with five inputs and no outputs.
func Sink5[A, B, C, D, E any](name string, fn func(ctx context.Context, a A, b B, c C, d D, e E) error, inA catalog.Handle[A], inB catalog.Handle[B], inC catalog.Handle[C], inD catalog.Handle[D], inE catalog.Handle[E]) *Node {
	return newNode(name, fn, []catalog.Ref{inA, inB, inC, inD, inE}, []catalog.Ref{}, func(ctx context.Context, in []any) ([]any, error) {
		return nil, fn(ctx, as[A](in[0]), as[B](in[1]), as[C](in[2]), as[D](in[3]), as[E](in[4]))
	})
}

// Node5 makes a node from a function with five inputs and one output.
func Node5[A, B, C, D, E, O any](name string, fn func(ctx context.Context, a A, b B, c C, d D, e E) (O, error), inA catalog.Handle[A], inB catalog.Handle[B], inC catalog.Handle[C], inD catalog.Handle[D], inE catalog.Handle[E], outO catalog.Handle[O]) *Node {
	return newNode(name, fn, []catalog.Ref{inA, inB, inC, inD, inE}, []catalog.Ref{outO}, func(ctx context.Context, in []any) ([]any, error) {
		r0, err := fn(ctx, as[A](in[0]), as[B](in[1]), as[C](in[2]), as[D](in[3]), as[E](in[4]))
		return []any{r0}, err
	})
}

// Node5x2 makes a node from a function with five inputs and two outputs.
func Node5x2[A, B, C, D, E, O1, O2 any](name string, fn func(ctx context.Context, a A, b B, c C, d D, e E) (O1, O2, error), inA catalog.Handle[A], inB catalog.Handle[B], inC catalog.Handle[C], inD catalog.Handle[D], inE catalog.Handle[E], outO1 catalog.Handle[O1], outO2 catalog.Handle[O2]) *Node {
	return newNode(name, fn, []catalog.Ref{inA, inB, inC, inD, inE}, []catalog.Ref{outO1, outO2}, func(ctx context.Context, in []any) ([]any, error) {
		r0, r1, err := fn(ctx, as[A](in[0]), as[B](in[1]), as[C](in[2]), as[D](in[3]), as[E](in[4]))
		return []any{r0, r1}, err
	})
}

// Node5x3 makes a node from a function with five inputs and three outputs.
func Node5x3[A, B, C, D, E, O1, O2, O3 any](name string, fn func(ctx context.Context, a A, b B, c C, d D, e E) (O1, O2, O3, error), inA catalog.Handle[A], inB catalog.Handle[B], inC catalog.Handle[C], inD catalog.Handle[D], inE catalog.Handle[E], outO1 catalog.Handle[O1], outO2 catalog.Handle[O2], outO3 catalog.Handle[O3]) *Node {
	return newNode(name, fn, []catalog.Ref{inA, inB, inC, inD, inE}, []catalog.Ref{outO1, outO2, outO3}, func(ctx context.Context, in []any) ([]any, error) {
		r0, r1, r2, err := fn(ctx, as[A](in[0]), as[B](in[1]), as[C](in[2]), as[D](in[3]), as[E](in[4]))
		return []any{r0, r1, r2}, err
	})
}
