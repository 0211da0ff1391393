package detect

import (
	"fmt"
	"image"
	"image/color"
	"os"
	"strings"

	"mmc/ml/checkpoint"
	"mmc/ml/checkpoint/pytorch"
	"mmc/ml/kernels"
)

// LoadStateDict reads a PyTorch checkpoint (a plain state dict or one kept
// under "model"/"state_dict"); objects other than tensors are kept as
// inert data and ignored. model names the detector in errors.
func LoadStateDict(model, path string) (checkpoint.StateDict, error) {
	if _, err := os.Stat(path); err != nil {
		return nil, fmt.Errorf("%s: weights %s: %w (place the checkpoint there, or run without weights for the small random demo detector)", model, path, err)
	}
	sd, err := pytorch.Load(path, &pytorch.Options{Lenient: true})
	if err != nil {
		return nil, fmt.Errorf("%s: %s: %w", model, path, err)
	}
	return sd, nil
}

// subDict returns the entries of sd under prefix, with the prefix cut.
func subDict(sd checkpoint.StateDict, prefix string) checkpoint.StateDict {
	out := checkpoint.StateDict{}
	for k, v := range sd {
		if rest, ok := strings.CutPrefix(k, prefix); ok {
			out[rest] = v
		}
	}
	return out
}

// tensor returns sd[key] (the first of keys present: checkpoints of
// different torchvision versions name some modules differently) with the
// wanted shape (-1: any), or an error naming the key.
func tensor(sd checkpoint.StateDict, dims []int, keys ...string) (*checkpoint.Array, string, error) {
	for _, key := range keys {
		a, ok := sd[key]
		if !ok {
			continue
		}
		if err := a.Check(key); err != nil {
			return nil, key, err
		}
		if len(a.Shape) != len(dims) {
			return nil, key, fmt.Errorf("%q has shape %v, want %d dimensions", key, a.Shape, len(dims))
		}
		for i, d := range dims {
			if d >= 0 && a.Shape[i] != d {
				return nil, key, fmt.Errorf("%q has shape %v, want %v (-1: any)", key, a.Shape, dims)
			}
		}
		return a, key, nil
	}
	return nil, "", fmt.Errorf("checkpoint has no %s (wrong model file, or a truncated one)", strings.Join(quoteAll(keys), " or "))
}

func quoteAll(s []string) []string {
	out := make([]string, len(s))
	for i, v := range s {
		out[i] = fmt.Sprintf("%q", v)
	}
	return out
}

// conv loads a convolution with bias (weight [out, in, k, k]) under one
// of the prefixes; padding is half the kernel.
func conv(sd checkpoint.StateDict, inC, stride int, prefixes ...string) (*kernels.Conv2D, error) {
	wkeys := make([]string, len(prefixes))
	for i, p := range prefixes {
		wkeys[i] = p + ".weight"
	}
	w, key, err := tensor(sd, []int{-1, inC, -1, -1}, wkeys...)
	if err != nil {
		return nil, err
	}
	p := strings.TrimSuffix(key, ".weight")
	b, _, err := tensor(sd, []int{w.Shape[0]}, p+".bias")
	if err != nil {
		return nil, err
	}
	c := &kernels.Conv2D{InC: w.Shape[1], OutC: w.Shape[0], KH: w.Shape[2], KW: w.Shape[3],
		StrideH: stride, StrideW: stride, PadH: w.Shape[2] / 2, PadW: w.Shape[3] / 2,
		DilH: 1, DilW: 1, Groups: 1, Weight: w.Data, Bias: b.Data}
	if err := c.Check(); err != nil {
		return nil, fmt.Errorf("%s: %w", p, err)
	}
	return c, nil
}

// concatConvs stacks 1×1 convolutions of the same input into one (their
// outputs one after the other), so that one GEMM makes all of them.
func concatConvs(cs ...*kernels.Conv2D) *kernels.Conv2D {
	out := *cs[0]
	out.Weight, out.Bias, out.OutC = nil, nil, 0
	for _, c := range cs {
		out.Weight = append(out.Weight, c.Weight...)
		out.Bias = append(out.Bias, c.Bias...)
		out.OutC += c.OutC
	}
	return &out
}

// Linear is y = x·Wᵀ + b with PyTorch's weight layout [Out, In].
type Linear struct {
	In, Out int
	W, B    []float32
}

func linear(sd checkpoint.StateDict, in int, prefix string) (Linear, error) {
	w, _, err := tensor(sd, []int{-1, in}, prefix+".weight")
	if err != nil {
		return Linear{}, err
	}
	b, _, err := tensor(sd, []int{w.Shape[0]}, prefix+".bias")
	if err != nil {
		return Linear{}, err
	}
	return Linear{In: w.Shape[1], Out: w.Shape[0], W: w.Data, B: b.Data}, nil
}

// concatLinear stacks linear layers of the same input.
func concatLinear(ls ...Linear) Linear {
	out := Linear{In: ls[0].In}
	for _, l := range ls {
		out.W = append(out.W, l.W...)
		out.B = append(out.B, l.B...)
		out.Out += l.Out
	}
	return out
}

// Forward computes y [rows, Out] from x [rows, In], with a ReLU if relu.
func (l Linear) Forward(y, x []float32, rows int, relu bool) {
	kernels.Linear(y, x, l.W, l.B, rows, l.In, l.Out)
	if relu {
		kernels.BiasReLU(y, nil, rows, l.Out, l.Out, true)
	}
}

func grow(b *[]float32, n int) []float32 {
	if cap(*b) < n {
		*b = make([]float32, n)
	}
	return (*b)[:n]
}

// rgbaPixels returns img as packed 8-bit RGBA rows (alpha ignored).
func rgbaPixels(img image.Image) ([]uint8, int, int) {
	b := img.Bounds()
	w, h := b.Dx(), b.Dy()
	if m, ok := img.(*image.RGBA); ok && m.Stride == 4*w {
		return m.Pix[:4*w*h], w, h
	}
	out := make([]uint8, 4*w*h)
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			c := color.NRGBAModel.Convert(img.At(b.Min.X+x, b.Min.Y+y)).(color.NRGBA)
			o := out[4*(y*w+x):]
			o[0], o[1], o[2], o[3] = c.R, c.G, c.B, 255
		}
	}
	return out, w, h
}
