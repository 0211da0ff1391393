package nn

import (
	"fmt"

	"mmc/ml/tensor"
)

// BertLayer is one transformer encoder layer of BERT (post-LayerNorm),
// with Hugging Face / MMF checkpoint key names relative to
// "encoder.layer.N":
//
//	h = LN(x + Dropout(Attn(x)·Wo))
//	y = LN(h + Dropout(GELU(h·Wi)·Wout))
type BertLayer struct {
	Query    *Linear    `pt:"attention.self.query"`
	Key      *Linear    `pt:"attention.self.key"`
	Value    *Linear    `pt:"attention.self.value"`
	AttnOut  *Linear    `pt:"attention.output.dense"`
	AttnNorm *LayerNorm `pt:"attention.output.LayerNorm"`
	Inter    *Linear    `pt:"intermediate.dense"`
	Out      *Linear    `pt:"output.dense"`
	OutNorm  *LayerNorm `pt:"output.LayerNorm"`

	Heads       int
	Dropout     float32 // hidden_dropout_prob
	AttnDropout float32 // attention_probs_dropout_prob
}

// NewBertLayer returns a layer initialised as BERT does: weights
// N(0, 0.02²), biases 0, LayerNorm weight 1, eps 1e-12, dropout 0.1.
func NewBertLayer(hidden, heads, intermediate int, rng *tensor.RNG) *BertLayer {
	if heads <= 0 || hidden%heads != 0 {
		panic(fmt.Sprintf("nn.NewBertLayer: hidden size %d does not split into %d heads", hidden, heads))
	}
	lin := func(in, out int) *Linear {
		l := &Linear{Weight: tensor.Param(out, in), Bias: tensor.Param(out)}
		Normal(l.Weight, 0.02, rng)
		return l
	}
	return &BertLayer{
		Query: lin(hidden, hidden), Key: lin(hidden, hidden), Value: lin(hidden, hidden),
		AttnOut: lin(hidden, hidden), AttnNorm: NewLayerNorm(hidden, 1e-12),
		Inter: lin(hidden, intermediate), Out: lin(intermediate, hidden), OutNorm: NewLayerNorm(hidden, 1e-12),
		Heads: heads, Dropout: 0.1, AttnDropout: 0.1,
	}
}

// Forward maps x [B, T, H] to [B, T, H]. mask is the additive key mask
// ([B, 1, 1, T], 0 keep / −10000 drop) or nil; rng drives dropout when
// train is true.
func (l *BertLayer) Forward(x, mask *tensor.Tensor, rng *tensor.RNG, train bool) *tensor.Tensor {
	q := tensor.SplitHeads(l.Query.Forward(x), l.Heads)
	k := tensor.SplitHeads(l.Key.Forward(x), l.Heads)
	v := tensor.SplitHeads(l.Value.Forward(x), l.Heads)
	ctx, _ := tensor.Attention(q, k, v, mask, l.AttnDropout, rng, train)
	a := tensor.Dropout(l.AttnOut.Forward(tensor.MergeHeads(ctx)), l.Dropout, rng, train)
	h := l.AttnNorm.Forward(tensor.Add(a, x))
	f := tensor.Dropout(l.Out.Forward(l.Inter.ForwardGELU(h)), l.Dropout, rng, train)
	return l.OutNorm.Forward(tensor.Add(f, h))
}
