package vilbert

import (
	"slices"
	"strconv"
	"strings"

	"mmc/ml/nn"
	"mmc/ml/tensor"
)

// NamedParam is one parameter with its checkpoint key (MMF layout without
// the "model." prefix, e.g. "bert.encoder.layer.0.attention.self.query.weight").
type NamedParam = tensor.Named

// Parameters lists every parameter in a fixed order (the struct order,
// which follows MMF's module order), with its key.
func (m *Model) Parameters() []NamedParam {
	if m.params == nil {
		m.params = walk(m, "") // the tensors never change: loading copies into them
	}
	return slices.Clone(m.params)
}

// walk lists the parameters reachable from v through fields tagged `pt`
// (nn.ParametersUnder): a tag is a key path segment joined with "."; the
// empty tag inlines the field's keys; a tag ending in "_" prefixes the
// next segment without a dot ("v_" + "intermediate.dense"). Slices
// number their elements as PyTorch's ModuleList does.
func walk(v any, prefix string) []NamedParam { return nn.ParametersUnder(v, prefix) }

// paramIndex maps keys to parameters.
func (m *Model) paramIndex() map[string]*tensor.Tensor {
	idx := map[string]*tensor.Tensor{}
	for _, p := range m.Parameters() {
		idx[p.Name] = p.Tensor
	}
	return idx
}

func shapeString(s []int) string {
	parts := make([]string, len(s))
	for i, d := range s {
		parts[i] = strconv.Itoa(d)
	}
	return "[" + strings.Join(parts, ",") + "]"
}
