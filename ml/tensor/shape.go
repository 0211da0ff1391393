package tensor

import (
	"fmt"
	"slices"
)

// Reshape returns x viewed with a new shape holding the same number of
// values; one dimension may be -1 to be inferred. The data is shared.
func Reshape(x *Tensor, shape ...int) *Tensor {
	shape = append([]int(nil), shape...)
	infer, known := -1, 1
	for i, d := range shape {
		if d == -1 {
			if infer >= 0 {
				panic(fmt.Sprintf("tensor.Reshape: more than one -1 in %v", shape))
			}
			infer = i
			continue
		}
		known *= d
	}
	if infer >= 0 && known > 0 {
		shape[infer] = len(x.Data) / known
	}
	if NumElements(shape) != len(x.Data) {
		panic(fmt.Sprintf("tensor.Reshape: cannot view %v as %v", x.Shape, shape))
	}
	out := &Tensor{Shape: shape, Data: x.Data}
	return out.record(func() {
		x.accumulate(out.Grad)
		out.Grad = nil // handed to x
	}, x)
}

// axisSplit describes x as [outer, size(axis), inner].
func axisSplit(op string, x *Tensor, axis int) (outer, mid, inner, ax int) {
	if axis < 0 {
		axis += x.Dim()
	}
	if axis < 0 || axis >= x.Dim() {
		panic(fmt.Sprintf("tensor.%s: axis %d out of range for shape %v", op, axis, x.Shape))
	}
	return NumElements(x.Shape[:axis]), x.Shape[axis], NumElements(x.Shape[axis+1:]), axis
}

// Concat joins tensors along axis; all other axes must agree.
func Concat(axis int, ts ...*Tensor) *Tensor {
	if len(ts) == 0 {
		panic("tensor.Concat: no tensors")
	}
	outer, _, inner, ax := axisSplit("Concat", ts[0], axis)
	total := 0
	for _, t := range ts {
		if t.Dim() != ts[0].Dim() || !slices.Equal(t.Shape[:ax], ts[0].Shape[:ax]) || !slices.Equal(t.Shape[ax+1:], ts[0].Shape[ax+1:]) {
			panic(fmt.Sprintf("tensor.Concat: shape %v does not fit %v along axis %d", t.Shape, ts[0].Shape, axis))
		}
		total += t.Shape[ax]
	}
	shape := append([]int(nil), ts[0].Shape...)
	shape[ax] = total
	out := Zeros(shape...)
	offsets := make([]int, len(ts))
	off := 0
	for i, t := range ts {
		offsets[i] = off
		w := t.Shape[ax] * inner
		for o := 0; o < outer; o++ {
			copy(out.Data[o*total*inner+off*inner:], t.Data[o*w:(o+1)*w])
		}
		off += t.Shape[ax]
	}
	return out.record(func() {
		for i, t := range ts {
			if !t.requiresGrad {
				continue
			}
			w := t.Shape[ax] * inner
			g := make([]float32, len(t.Data))
			for o := 0; o < outer; o++ {
				copy(g[o*w:(o+1)*w], out.Grad[o*total*inner+offsets[i]*inner:])
			}
			t.accumulate(g)
		}
	}, ts...)
}

// Slice returns x[..., start:end, ...] along axis, as a copy.
func Slice(x *Tensor, axis, start, end int) *Tensor {
	outer, mid, inner, ax := axisSplit("Slice", x, axis)
	if start < 0 || end > mid || start > end {
		panic(fmt.Sprintf("tensor.Slice: range [%d:%d] outside axis %d of %v", start, end, axis, x.Shape))
	}
	shape := append([]int(nil), x.Shape...)
	shape[ax] = end - start
	out := Zeros(shape...)
	w := (end - start) * inner
	for o := 0; o < outer; o++ {
		copy(out.Data[o*w:(o+1)*w], x.Data[(o*mid+start)*inner:])
	}
	return out.record(func() {
		g := make([]float32, len(x.Data))
		for o := 0; o < outer; o++ {
			copy(g[(o*mid+start)*inner:], out.Grad[o*w:(o+1)*w])
		}
		x.accumulate(g)
	}, x)
}

// Split cuts x along axis into consecutive pieces of the given sizes,
// which must add up to the axis length.
func Split(x *Tensor, axis int, sizes ...int) []*Tensor {
	_, mid, _, _ := axisSplit("Split", x, axis)
	total := 0
	for _, s := range sizes {
		total += s
	}
	if total != mid {
		panic(fmt.Sprintf("tensor.Split: sizes %v do not add up to %d on axis %d of %v", sizes, mid, axis, x.Shape))
	}
	parts := make([]*Tensor, len(sizes))
	start := 0
	for i, s := range sizes {
		parts[i] = Slice(x, axis, start, start+s)
		start += s
	}
	return parts
}

// SelectFirst returns the first position of axis 1: [B, T, H] → [B, H],
// the pooled "[CLS]" token.
func SelectFirst(x *Tensor) *Tensor {
	mustDim("SelectFirst", x, 3)
	return Reshape(Slice(x, 1, 0, 1), x.Shape[0], x.Shape[2])
}

// MaskedMean averages x ([B, T, ...]) over axis 1, counting position t of
// row b with weight mask[b*T+t] (1 keeps, 0 drops): [B, T, ...] → [B, ...].
// A row with no kept position gives zeros.
func MaskedMean(x *Tensor, mask []float32) *Tensor {
	if x.Dim() < 2 {
		panic(fmt.Sprintf("tensor.MaskedMean: need [B, T, ...], got %v", x.Shape))
	}
	b, t := x.Shape[0], x.Shape[1]
	if len(mask) != b*t {
		panic(fmt.Sprintf("tensor.MaskedMean: mask has %d values for %v", len(mask), x.Shape))
	}
	inner := NumElements(x.Shape[2:])
	out := Zeros(append([]int{b}, x.Shape[2:]...)...)
	weights := make([]float32, b*t)
	for bi := 0; bi < b; bi++ {
		var s float32
		for ti := 0; ti < t; ti++ {
			s += mask[bi*t+ti]
		}
		if s == 0 {
			continue
		}
		for ti := 0; ti < t; ti++ {
			w := mask[bi*t+ti] / s
			weights[bi*t+ti] = w
			src, dst := x.Data[(bi*t+ti)*inner:(bi*t+ti+1)*inner], out.Data[bi*inner:(bi+1)*inner]
			for j, v := range src {
				dst[j] += w * v
			}
		}
	}
	return out.record(func() {
		g := make([]float32, len(x.Data))
		for i, w := range weights {
			src, dst := out.Grad[(i/t)*inner:(i/t+1)*inner], g[i*inner:(i+1)*inner]
			for j, v := range src {
				dst[j] = w * v
			}
		}
		x.accumulate(g)
	}, x)
}

// SplitHeads reshapes [B, T, nh·hd] to [B, nh, T, hd] (a copy).
func SplitHeads(x *Tensor, heads int) *Tensor {
	mustDim("SplitHeads", x, 3)
	b, t, h := x.Shape[0], x.Shape[1], x.Shape[2]
	if heads <= 0 || h%heads != 0 {
		panic(fmt.Sprintf("tensor.SplitHeads: %d features do not split into %d heads", h, heads))
	}
	hd := h / heads
	out := Zeros(b, heads, t, hd)
	permuteHeads(out.Data, x.Data, b, t, heads, hd, true)
	return out.record(func() {
		g := make([]float32, len(x.Data))
		permuteHeads(g, out.Grad, b, t, heads, hd, false)
		x.accumulate(g)
	}, x)
}

// MergeHeads reshapes [B, nh, T, hd] to [B, T, nh·hd] (a copy).
func MergeHeads(x *Tensor) *Tensor {
	mustDim("MergeHeads", x, 4)
	b, heads, t, hd := x.Shape[0], x.Shape[1], x.Shape[2], x.Shape[3]
	out := Zeros(b, t, heads*hd)
	permuteHeads(out.Data, x.Data, b, t, heads, hd, false)
	return out.record(func() {
		g := make([]float32, len(x.Data))
		permuteHeads(g, out.Grad, b, t, heads, hd, true)
		x.accumulate(g)
	}, x)
}

// permuteHeads copies between [B, T, nh, hd] and [B, nh, T, hd] layouts;
// split selects the direction (token-major source when true).
func permuteHeads(dst, src []float32, b, t, heads, hd int, split bool) {
	parallelFor(b*t, heads*hd, func(lo, hi int) {
		for bt := lo; bt < hi; bt++ {
			bi, ti := bt/t, bt%t
			for h := 0; h < heads; h++ {
				tok := (bt*heads + h) * hd
				head := ((bi*heads+h)*t + ti) * hd
				if split {
					copy(dst[head:head+hd], src[tok:tok+hd])
				} else {
					copy(dst[tok:tok+hd], src[head:head+hd])
				}
			}
		}
	})
}
