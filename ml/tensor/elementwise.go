package tensor

import (
	"fmt"
	"math"

	"mmc/ml/kernels"
)

// Add returns a + b for tensors of the same shape.
func Add(a, b *Tensor) *Tensor {
	mustSameShape("Add", a, b)
	out := &Tensor{Shape: append([]int(nil), a.Shape...), Data: make([]float32, len(a.Data))}
	parallelFor(len(out.Data), 1, func(lo, hi int) {
		o, x, y := out.Data[lo:hi], a.Data[lo:hi], b.Data[lo:hi]
		for i := range o {
			o[i] = x[i] + y[i]
		}
	})
	return out.record(func() {
		// accumulate may adopt its slice: b gets a copy, a the buffer itself
		// (out's gradient is dropped right after this function).
		if b.requiresGrad {
			b.accumulate(append([]float32(nil), out.Grad...))
		}
		a.accumulate(out.Grad)
	}, a, b)
}

// Sub returns a - b for tensors of the same shape.
func Sub(a, b *Tensor) *Tensor {
	return Add(a, Scale(b, -1))
}

// Mul returns the elementwise product of tensors of the same shape.
func Mul(a, b *Tensor) *Tensor {
	mustSameShape("Mul", a, b)
	out := &Tensor{Shape: append([]int(nil), a.Shape...), Data: make([]float32, len(a.Data))}
	parallelFor(len(out.Data), 1, func(lo, hi int) {
		o, x, y := out.Data[lo:hi], a.Data[lo:hi], b.Data[lo:hi]
		for i := range o {
			o[i] = x[i] * y[i]
		}
	})
	return out.record(func() {
		if a.requiresGrad {
			a.accumulate(mulSlices(out.Grad, b.Data))
		}
		if b.requiresGrad {
			b.accumulate(mulSlices(out.Grad, a.Data))
		}
	}, a, b)
}

func mulSlices(x, y []float32) []float32 {
	out := make([]float32, len(x))
	parallelFor(len(out), 1, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			out[i] = x[i] * y[i]
		}
	})
	return out
}

// Scale returns s·x.
func Scale(x *Tensor, s float32) *Tensor {
	out := &Tensor{Shape: append([]int(nil), x.Shape...), Data: scaled(x.Data, s)}
	return out.record(func() { x.accumulate(scaled(out.Grad, s)) }, x)
}

func scaled(x []float32, s float32) []float32 {
	out := make([]float32, len(x))
	parallelFor(len(out), 1, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			out[i] = x[i] * s
		}
	})
	return out
}

// AddBias adds the vector b to every row of x's last axis: x is [..., n],
// b is [n].
func AddBias(x, b *Tensor) *Tensor {
	rows, cols := lastDim("AddBias", x)
	if b.Dim() != 1 || b.Shape[0] != x.Shape[x.Dim()-1] {
		panic(fmt.Sprintf("tensor.AddBias: bias %v does not match the last axis of %v", b.Shape, x.Shape))
	}
	out := &Tensor{Shape: append([]int(nil), x.Shape...), Data: make([]float32, len(x.Data))}
	parallelFor(rows, cols, func(lo, hi int) {
		for r := lo; r < hi; r++ {
			o, in := out.Data[r*cols:(r+1)*cols], x.Data[r*cols:(r+1)*cols]
			for j := range o {
				o[j] = in[j] + b.Data[j]
			}
		}
	})
	return out.record(func() {
		if b.requiresGrad {
			kernels.BiasGrad(b.grad(), out.Grad, rows, cols)
		}
		x.accumulate(out.Grad)
	}, x, b)
}

// unary builds an elementwise op from its forward function and its
// derivative expressed through the input x and the output y.
func unary(x *Tensor, f func(x float32) float32, df func(x, y float32) float32) *Tensor {
	out := &Tensor{Shape: append([]int(nil), x.Shape...), Data: make([]float32, len(x.Data))}
	parallelFor(len(x.Data), 8, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			out.Data[i] = f(x.Data[i])
		}
	})
	return out.record(func() {
		g := make([]float32, len(x.Data))
		parallelFor(len(g), 8, func(lo, hi int) {
			for i := lo; i < hi; i++ {
				g[i] = out.Grad[i] * df(x.Data[i], out.Data[i])
			}
		})
		x.accumulate(g)
	}, x)
}

// ReLU returns max(x, 0).
func ReLU(x *Tensor) *Tensor {
	return unary(x, func(v float32) float32 { return max(v, 0) },
		func(v, _ float32) float32 {
			if v > 0 {
				return 1
			}
			return 0
		})
}

// Tanh returns tanh(x).
func Tanh(x *Tensor) *Tensor {
	return unary(x, func(v float32) float32 { return float32(math.Tanh(float64(v))) },
		func(_, y float32) float32 { return 1 - y*y })
}

// Sigmoid returns 1/(1+exp(-x)).
func Sigmoid(x *Tensor) *Tensor {
	return unary(x, func(v float32) float32 { return float32(1 / (1 + math.Exp(-float64(v)))) },
		func(_, y float32) float32 { return y * (1 - y) })
}

// GELU is the exact Gaussian error linear unit x·Φ(x) = ½x(1+erf(x/√2)),
// PyTorch's default (approximate="none").
func GELU(x *Tensor) *Tensor {
	out := &Tensor{Shape: append([]int(nil), x.Shape...), Data: make([]float32, len(x.Data))}
	kernels.GELU(out.Data, x.Data)
	return out.record(func() {
		g := make([]float32, len(x.Data))
		kernels.GELUBackward(g, out.Grad, x.Data)
		x.accumulate(g)
	}, x)
}

// Sum returns the sum of all values as a 0-d tensor.
func Sum(x *Tensor) *Tensor {
	s := 0.0
	for _, v := range x.Data {
		s += float64(v)
	}
	out := Scalar(float32(s))
	return out.record(func() {
		g := make([]float32, len(x.Data))
		for i := range g {
			g[i] = out.Grad[0]
		}
		x.accumulate(g)
	}, x)
}

// Mean returns the mean of all values as a 0-d tensor.
func Mean(x *Tensor) *Tensor {
	if len(x.Data) == 0 {
		panic("tensor.Mean: empty tensor")
	}
	return Scale(Sum(x), 1/float32(len(x.Data)))
}
