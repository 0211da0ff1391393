package tensor

import (
	"fmt"
	"slices"

	"mmc/ml/kernels"
)

// Tensor is a dense row-major float32 array with an optional gradient.
// Data holds Numel() values. Grad is nil until a backward pass reaches the
// tensor; for leaves (parameters) it then accumulates across Backward calls
// until ZeroGrad. Results of ops keep their Grad only while Backward runs.
type Tensor struct {
	Shape []int
	Data  []float32
	Grad  []float32

	requiresGrad bool
	node         *node // nil for leaves and for results recorded without grad
	freed        bool  // an op result whose history a Backward released
}

// node is the recorded history of an op result.
type node struct {
	parents  []*Tensor
	backward func() // reads the result's Grad, accumulates into parents
}

// Named is a parameter with its checkpoint key ("encoder.layer.0.
// attention.self.query.weight"). It is the one named-parameter type of
// ml/: modules list them (nn.Parameters), optimizers and the training
// loop take them.
type Named struct {
	Name   string
	Tensor *Tensor
}

// New wraps data (not copied) as a tensor of the given shape. It panics if
// len(data) differs from the product of shape.
func New(data []float32, shape ...int) *Tensor {
	n := NumElements(shape)
	if n != len(data) {
		panic(fmt.Sprintf("tensor.New: shape %v holds %d values, data has %d", shape, n, len(data)))
	}
	return &Tensor{Shape: append([]int(nil), shape...), Data: data}
}

// Zeros returns a zero-filled tensor.
func Zeros(shape ...int) *Tensor {
	return &Tensor{Shape: append([]int(nil), shape...), Data: make([]float32, NumElements(shape))}
}

// Full returns a tensor with every value v.
func Full(v float32, shape ...int) *Tensor {
	t := Zeros(shape...)
	for i := range t.Data {
		t.Data[i] = v
	}
	return t
}

// Scalar returns a 0-d tensor.
func Scalar(v float32) *Tensor { return &Tensor{Shape: []int{}, Data: []float32{v}} }

// Param returns a zero-filled leaf that requires a gradient: a trainable
// parameter whose values the caller initialises or loads.
func Param(shape ...int) *Tensor {
	t := Zeros(shape...)
	t.requiresGrad = true
	return t
}

// RequiresGrad reports whether gradients flow to or through t.
func (t *Tensor) RequiresGrad() bool { return t.requiresGrad }

// SetRequiresGrad marks a leaf as trainable (true) or frozen (false) and
// returns t. Freezing drops any accumulated gradient. It panics on an op
// result, whose flag follows from its inputs.
func (t *Tensor) SetRequiresGrad(v bool) *Tensor {
	if t.node != nil {
		panic("tensor: SetRequiresGrad on a recorded op result; Detach it first")
	}
	t.requiresGrad = v
	if !v {
		t.Grad = nil
	}
	return t
}

// IsLeaf reports whether t has no recorded history.
func (t *Tensor) IsLeaf() bool { return t.node == nil }

// Numel is the number of values (1 for a 0-d tensor).
func (t *Tensor) Numel() int { return NumElements(t.Shape) }

// Dim is the number of axes.
func (t *Tensor) Dim() int { return len(t.Shape) }

// Item returns the only value of a one-element tensor.
func (t *Tensor) Item() float32 {
	if len(t.Data) != 1 {
		panic(fmt.Sprintf("tensor.Item: shape %v is not a single value", t.Shape))
	}
	return t.Data[0]
}

// ZeroGrad drops the gradient so the next backward pass starts from zero.
func (t *Tensor) ZeroGrad() { t.Grad = nil }

// Detach returns a leaf sharing t's data, with no history and no gradient.
func (t *Tensor) Detach() *Tensor {
	return &Tensor{Shape: append([]int(nil), t.Shape...), Data: t.Data}
}

// Clone returns a leaf holding a copy of t's data.
func (t *Tensor) Clone() *Tensor {
	return &Tensor{Shape: append([]int(nil), t.Shape...), Data: append([]float32(nil), t.Data...)}
}

// String summarises shape and the first values, for debugging.
func (t *Tensor) String() string {
	n := min(len(t.Data), 6)
	s := fmt.Sprintf("Tensor%v%v", t.Shape, t.Data[:n])
	if n < len(t.Data) {
		s += "…"
	}
	return s
}

// NumElements is the number of values a tensor of this shape holds (1
// for a 0-d shape); it panics on a negative dimension.
func NumElements(shape []int) int {
	n := 1
	for _, d := range shape {
		if d < 0 {
			panic(fmt.Sprintf("tensor: negative dimension in shape %v", shape))
		}
		n *= d
	}
	return n
}

// NoGrad runs fn with the leaves params treated as constants: ops over
// them record no history, as under torch.no_grad() for a model's
// parameters, so inference keeps no graph. Only these tensors are
// affected, never a process-wide switch: a training step in another
// goroutine over other parameters keeps recording. Their flags (not
// their gradients) are restored afterwards, also when fn panics. Using
// the same parameters from another goroutine meanwhile is a data race, as
// any concurrent use of a parameter being changed is.
func NoGrad(params []*Tensor, fn func()) {
	prev := make([]bool, len(params))
	for i, p := range params {
		prev[i] = p.requiresGrad
		p.requiresGrad = false
	}
	defer func() {
		for i, p := range params {
			p.requiresGrad = prev[i]
		}
	}()
	fn()
}

// needsGrad reports whether an op over inputs must record its backward.
func needsGrad(inputs ...*Tensor) bool {
	for _, t := range inputs {
		if t != nil && t.requiresGrad {
			return true
		}
	}
	return false
}

// record attaches history to out when any parent requires a gradient.
// backward runs with out.Grad allocated and must only accumulate into
// parents that RequiresGrad.
func (out *Tensor) record(backward func(), parents ...*Tensor) *Tensor {
	if !needsGrad(parents...) {
		return out
	}
	out.requiresGrad = true
	out.node = &node{parents: parents, backward: backward}
	return out
}

// grad returns t.Grad, allocating zeros on first use.
func (t *Tensor) grad() []float32 {
	if t.Grad == nil {
		t.Grad = make([]float32, len(t.Data))
	}
	return t.Grad
}

// accumulate adds g into t's gradient. When t has none yet the slice is
// adopted instead of copied; callers pass only buffers they own.
func (t *Tensor) accumulate(g []float32) {
	if !t.requiresGrad {
		return
	}
	if t.Grad == nil {
		t.Grad = g
		return
	}
	addTo(t.Grad, g)
}

// Backward computes gradients of the scalar t with respect to every leaf
// that requires one, seeding dt = 1. The graph is freed afterwards, as in
// PyTorch; run the forward pass again before another Backward.
func (t *Tensor) Backward() {
	if len(t.Data) != 1 {
		panic(fmt.Sprintf("tensor.Backward: shape %v is not a scalar; use BackwardWith", t.Shape))
	}
	t.BackwardWith([]float32{1})
}

// BackwardWith runs the backward pass seeded with the upstream gradient
// grad (same length as t.Data; it is not modified).
func (t *Tensor) BackwardWith(grad []float32) {
	if len(grad) != len(t.Data) {
		panic(fmt.Sprintf("tensor.BackwardWith: gradient has %d values for shape %v", len(grad), t.Shape))
	}
	if t.freed {
		panic("tensor.Backward: the graph was already freed by an earlier Backward; run the forward pass again")
	}
	if !t.requiresGrad {
		panic("tensor.Backward: the tensor does not require a gradient (no trainable input, or recorded under NoGrad)")
	}
	order := topoOrder(t)
	if t.Grad == nil {
		t.Grad = append([]float32(nil), grad...)
	} else {
		addTo(t.Grad, grad)
	}
	for i := len(order) - 1; i >= 0; i-- {
		n := order[i]
		if n.Grad != nil {
			n.node.backward()
		}
		// Release the history and the op result's gradient at once: later
		// nodes never read them, and the memory goes back for reuse.
		n.node = nil
		n.Grad = nil
		n.freed = true
	}
}

// topoOrder lists the recorded op results reachable from t, parents first.
func topoOrder(t *Tensor) []*Tensor {
	var order []*Tensor
	seen := map[*Tensor]bool{}
	type frame struct {
		t    *Tensor
		next int
	}
	stack := []frame{{t: t}}
	seen[t] = true
	for len(stack) > 0 {
		f := &stack[len(stack)-1]
		if f.t.node == nil {
			stack = stack[:len(stack)-1]
			continue
		}
		if f.next < len(f.t.node.parents) {
			p := f.t.node.parents[f.next]
			f.next++
			if p != nil && p.node != nil && !seen[p] {
				seen[p] = true
				stack = append(stack, frame{t: p})
			}
			continue
		}
		order = append(order, f.t)
		stack = stack[:len(stack)-1]
	}
	return order
}

// AllFinite reports whether every value of s is finite.
func AllFinite(s []float32) bool { return kernels.AllFinite(s) }

func mustSameShape(op string, a, b *Tensor) {
	if !slices.Equal(a.Shape, b.Shape) {
		panic(fmt.Sprintf("tensor.%s: shapes %v and %v differ", op, a.Shape, b.Shape))
	}
}

func mustDim(op string, t *Tensor, dims int) {
	if len(t.Shape) != dims {
		panic(fmt.Sprintf("tensor.%s: want %d axes, got shape %v", op, dims, t.Shape))
	}
}

// lastDim splits t into rows of its last axis.
func lastDim(op string, t *Tensor) (rows, cols int) {
	if len(t.Shape) == 0 {
		panic(fmt.Sprintf("tensor.%s: a 0-d tensor has no last axis", op))
	}
	cols = t.Shape[len(t.Shape)-1]
	if cols == 0 {
		return 0, 0
	}
	return len(t.Data) / cols, cols
}

// Custom records an op computed outside this package: out (a fresh
// tensor holding the result) gets history over parents, and backward
// receives out's gradient and must accumulate into the parents that
// require one (AccumulateGrad for inputs; parameters may add into their
// Grad directly). Nothing is recorded when no parent requires a gradient
// or recording is off.
func Custom(out *Tensor, backward func(dout []float32), parents ...*Tensor) *Tensor {
	return out.record(func() { backward(out.Grad) }, parents...)
}

// AccumulateGrad adds g into t's gradient when t requires one; t may
// adopt g, so callers pass a buffer they own.
func (t *Tensor) AccumulateGrad(g []float32) { t.accumulate(g) }
