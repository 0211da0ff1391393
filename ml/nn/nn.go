// Package nn holds parameterised layers (Linear, LayerNorm, Embedding) and
// the reflection walk that names a model's parameters from `pt` struct
// tags, so model code never handles string-keyed maps: the same walk
// lists parameters for the optimizer, loads a PyTorch or safetensors
// state_dict and saves one.
//
// A tag ending in "_" prefixes the next segment without a dot ("v_" +
// "intermediate.dense", as ViLBERT's connection layers name their FFNs).
// A field tagged `pt:"name"` is a parameter when it is a *tensor.Tensor
// and a sub-module when it is a struct, a pointer to one, or a slice or
// array of those (elements are named by index, "layer.0", "layer.1", …).
// A struct field tagged `pt:""` adds no name segment. Nil tensors and
// nil sub-modules are skipped, so an optional bias can simply be left nil.
package nn

import (
	"fmt"
	"math"
	"reflect"
	"strconv"
	"strings"

	"mmc/ml/checkpoint"
	"mmc/ml/tensor"
)

// Linear is y = x·Wᵀ + b with Weight [out, in] and Bias [out] (or nil).
type Linear struct {
	Weight *tensor.Tensor `pt:"weight"`
	Bias   *tensor.Tensor `pt:"bias"`
}

// NewLinear returns a layer initialised as torch.nn.Linear: weight and
// bias uniform in ±1/√in.
func NewLinear(in, out int, bias bool, rng *tensor.RNG) *Linear {
	l := &Linear{Weight: tensor.Param(out, in)}
	bound := float32(1 / math.Sqrt(float64(max(in, 1))))
	Uniform(l.Weight, -bound, bound, rng)
	if bias {
		l.Bias = tensor.Param(out)
		Uniform(l.Bias, -bound, bound, rng)
	}
	return l
}

// Forward applies the layer to x [..., in].
func (l *Linear) Forward(x *tensor.Tensor) *tensor.Tensor {
	return tensor.Linear(x, l.Weight, l.Bias)
}

// ForwardGELU is GELU(Forward(x)) computed in one fused pass.
func (l *Linear) ForwardGELU(x *tensor.Tensor) *tensor.Tensor {
	return tensor.LinearGELU(x, l.Weight, l.Bias)
}

// LayerNorm normalises the last axis and applies Weight and Bias ([n]).
type LayerNorm struct {
	Weight *tensor.Tensor `pt:"weight"`
	Bias   *tensor.Tensor `pt:"bias"`
	Eps    float32
}

// NewLayerNorm returns a layer with unit weight and zero bias.
func NewLayerNorm(n int, eps float32) *LayerNorm {
	w := tensor.Param(n)
	for i := range w.Data {
		w.Data[i] = 1
	}
	return &LayerNorm{Weight: w, Bias: tensor.Param(n), Eps: eps}
}

// Forward normalises x [..., n].
func (l *LayerNorm) Forward(x *tensor.Tensor) *tensor.Tensor {
	return tensor.LayerNorm(x, l.Weight, l.Bias, l.Eps)
}

// Embedding is a lookup table Weight [vocab, dim].
type Embedding struct {
	Weight *tensor.Tensor `pt:"weight"`
}

// NewEmbedding returns a table initialised N(0, 1), as torch.nn.Embedding.
func NewEmbedding(vocab, dim int, rng *tensor.RNG) *Embedding {
	e := &Embedding{Weight: tensor.Param(vocab, dim)}
	Normal(e.Weight, 1, rng)
	return e
}

// Forward looks up ids arranged as idShape (default [len(ids)]).
func (e *Embedding) Forward(ids []int, idShape ...int) *tensor.Tensor {
	return tensor.Embedding(e.Weight, ids, idShape...)
}

// Uniform fills t with values uniform in [lo, hi).
func Uniform(t *tensor.Tensor, lo, hi float32, rng *tensor.RNG) {
	for i := range t.Data {
		t.Data[i] = lo + (hi-lo)*rng.Float32()
	}
}

// Normal fills t with values drawn from N(0, std²), the BERT initialiser
// with std 0.02.
func Normal(t *tensor.Tensor, std float32, rng *tensor.RNG) {
	for i := range t.Data {
		t.Data[i] = std * rng.NormFloat32()
	}
}

// Parameters lists the parameters of module (a pointer to a struct) in
// field order, named by their `pt` tag paths.
func Parameters(module any) []tensor.Named { return ParametersUnder(module, "") }

// ParametersUnder is Parameters with every name under prefix.
func ParametersUnder(module any, prefix string) []tensor.Named {
	var out []tensor.Named
	walk(reflect.ValueOf(module), prefix, func(name string, t *tensor.Tensor) {
		out = append(out, tensor.Named{Name: name, Tensor: t})
	})
	return out
}

// StateDict copies module's parameters into a state_dict.
func StateDict(module any) checkpoint.StateDict {
	sd := checkpoint.StateDict{}
	for _, p := range Parameters(module) {
		sd[p.Name] = &checkpoint.Array{Shape: append([]int(nil), p.Tensor.Shape...), Data: append([]float32(nil), p.Tensor.Data...)}
	}
	return sd
}

// Load copies values from sd into module's parameters by name. Every
// parameter must be present with the same number of values (a differing
// shape with the same count, such as [n] against [1, n], is accepted). With
// strict, keys of sd that match no parameter are an error too. It returns
// the keys of sd that were not used.
func Load(module any, sd checkpoint.StateDict, strict bool) (unused []string, err error) {
	used := map[string]bool{}
	for _, p := range Parameters(module) {
		a, ok := sd[p.Name]
		if !ok {
			return nil, fmt.Errorf("load weights: parameter %q missing from the state_dict", p.Name)
		}
		if err := a.Check(p.Name); err != nil {
			return nil, fmt.Errorf("load weights: %w", err)
		}
		if len(a.Data) != len(p.Tensor.Data) {
			return nil, fmt.Errorf("load weights: %q has shape %v, the model wants %v", p.Name, a.Shape, p.Tensor.Shape)
		}
		copy(p.Tensor.Data, a.Data)
		used[p.Name] = true
	}
	for _, k := range sd.Keys() {
		if !used[k] {
			unused = append(unused, k)
		}
	}
	if strict && len(unused) > 0 {
		return unused, fmt.Errorf("load weights: %d unexpected keys, first %q", len(unused), unused[0])
	}
	return unused, nil
}

var tensorType = reflect.TypeOf((*tensor.Tensor)(nil))

func join(prefix, name string) string {
	switch {
	case prefix == "":
		return name
	case name == "":
		return prefix
	case strings.HasSuffix(prefix, "_"):
		return prefix + name // "v_" + "intermediate.dense"
	}
	return prefix + "." + name
}

func walk(v reflect.Value, prefix string, visit func(string, *tensor.Tensor)) {
	switch v.Kind() {
	case reflect.Pointer, reflect.Interface:
		if v.IsNil() {
			return
		}
		if v.Type() == tensorType {
			visit(prefix, v.Interface().(*tensor.Tensor))
			return
		}
		walk(v.Elem(), prefix, visit)
	case reflect.Struct:
		t := v.Type()
		for i := 0; i < t.NumField(); i++ {
			f := t.Field(i)
			tag, ok := f.Tag.Lookup("pt")
			if !ok || !f.IsExported() {
				continue
			}
			walk(v.Field(i), join(prefix, tag), visit)
		}
	case reflect.Slice, reflect.Array:
		for i := 0; i < v.Len(); i++ {
			walk(v.Index(i), join(prefix, strconv.Itoa(i)), visit)
		}
	}
}
