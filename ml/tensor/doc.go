// Package tensor is mmc's numeric engine: dense row-major float32 tensors
// and reverse-mode automatic differentiation over hand-written kernels,
// with matrix products delegated to package blas (OpenBLAS through cgo, or
// pure Go).
//
// Model code is written forward-only, as in PyTorch eager mode. Each op
// computes its result at once and, when an input requires a gradient,
// records a backward function beside the result; Backward on a scalar loss
// walks that graph in reverse topological order and accumulates gradients
// into every leaf's Grad. Ops whose inputs need no gradient record nothing,
// so frozen parameters and inference cost no backward work; NoGrad treats
// a model's parameters as constants for a block (scoped to those tensors:
// there is no process-wide switch). The kernels themselves (matrix
// products, softmax, LayerNorm, GELU, dropout, attention) live in
// ml/kernels over plain slices; the ops here record their backward passes.
//
// Shapes are checked by every op; a mismatch is a programming error and
// panics with a message naming the op and both shapes, as gonum's mat does.
//
// Layout conventions follow PyTorch so checkpoints load by key without
// transposes: Linear weights are [out, in], attention tensors are
// [batch, heads, tokens, headDim], additive attention masks are
// [batch, 1, 1, keys].
package tensor
