package models

import (
	"fmt"

	"mmc/ml/batch"
	"mmc/ml/nn"
	"mmc/ml/tensor"
	"mmc/ml/train"
)

// TextBERTConfig sizes TextBERT (Hugging Face BERT field names).
type TextBERTConfig struct {
	VocabSize             int     `yaml:"vocab_size" json:"vocab_size"`
	HiddenSize            int     `yaml:"hidden_size" json:"hidden_size"`
	NumHiddenLayers       int     `yaml:"num_hidden_layers" json:"num_hidden_layers"`
	NumAttentionHeads     int     `yaml:"num_attention_heads" json:"num_attention_heads"`
	IntermediateSize      int     `yaml:"intermediate_size" json:"intermediate_size"`
	MaxPositionEmbeddings int     `yaml:"max_position_embeddings" json:"max_position_embeddings"`
	TypeVocabSize         int     `yaml:"type_vocab_size" json:"type_vocab_size"`
	Dropout               float32 `yaml:"dropout" json:"dropout"` // hidden, attention and classifier dropout
}

// TextBERT is the Hateful Memes paper's "Text BERT" unimodal baseline:
// BERT over the caption, the tanh pooler on [CLS], dropout and a linear
// classifier. Keys follow Hugging Face's BertForSequenceClassification
// ("bert.embeddings.word_embeddings.weight", …, "classifier.weight"), so
// bert-base-uncased weights load by name. It reads no image input.
type TextBERT struct {
	Word       *nn.Embedding   `pt:"bert.embeddings.word_embeddings"`
	Position   *nn.Embedding   `pt:"bert.embeddings.position_embeddings"`
	TokenType  *nn.Embedding   `pt:"bert.embeddings.token_type_embeddings"`
	EmbNorm    *nn.LayerNorm   `pt:"bert.embeddings.LayerNorm"`
	Layers     []*nn.BertLayer `pt:"bert.encoder.layer"`
	Pooler     *nn.Linear      `pt:"bert.pooler.dense"`
	Classifier *nn.Linear      `pt:"classifier"`

	Config TextBERTConfig
}

// NewTextBERT builds the model initialised as BERT's _init_weights does
// (weights N(0, 0.02²), biases 0, LayerNorm 1/0) from seed.
func NewTextBERT(c TextBERTConfig, seed uint64) (*TextBERT, error) {
	switch {
	case c.VocabSize <= 0 || c.HiddenSize <= 0 || c.NumAttentionHeads <= 0 || c.IntermediateSize <= 0 ||
		c.MaxPositionEmbeddings <= 0 || c.TypeVocabSize <= 0 || c.NumHiddenLayers < 0:
		return nil, fmt.Errorf("text bert: sizes must be positive: %+v", c)
	case c.HiddenSize%c.NumAttentionHeads != 0:
		return nil, fmt.Errorf("text bert: hidden_size %d is not a multiple of %d heads", c.HiddenSize, c.NumAttentionHeads)
	case c.Dropout < 0 || c.Dropout >= 1:
		return nil, fmt.Errorf("text bert: dropout %v outside [0, 1)", c.Dropout)
	}
	rng := tensor.NewRNG(seed)
	emb := func(n int) *nn.Embedding {
		e := nn.NewEmbedding(n, c.HiddenSize, rng)
		nn.Normal(e.Weight, 0.02, rng)
		return e
	}
	lin := func(in, out int) *nn.Linear {
		l := &nn.Linear{Weight: tensor.Param(out, in), Bias: tensor.Param(out)}
		nn.Normal(l.Weight, 0.02, rng)
		return l
	}
	m := &TextBERT{
		Word: emb(c.VocabSize), Position: emb(c.MaxPositionEmbeddings), TokenType: emb(c.TypeVocabSize),
		EmbNorm: nn.NewLayerNorm(c.HiddenSize, 1e-12),
		Pooler:  lin(c.HiddenSize, c.HiddenSize), Classifier: lin(c.HiddenSize, 2),
		Config: c,
	}
	for range c.NumHiddenLayers {
		l := nn.NewBertLayer(c.HiddenSize, c.NumAttentionHeads, c.IntermediateSize, 0.02, rng)
		l.Attention.AttnDropout, l.Attention.Dropout, l.FFN.Dropout = c.Dropout, c.Dropout, c.Dropout
		m.Layers = append(m.Layers, l)
	}
	return m, nil
}

// Params lists the parameters by checkpoint key.
func (m *TextBERT) Params() []train.Param {
	return nn.Parameters(m)
}

// Forward computes logits [B, 2] from the batch's tokens only.
func (m *TextBERT) Forward(b *batch.Batch, train bool) *tensor.Tensor {
	n, t := b.Size, b.SeqLen
	if t > m.Config.MaxPositionEmbeddings {
		panic(fmt.Sprintf("TextBERT: %d tokens exceed max_position_embeddings %d", t, m.Config.MaxPositionEmbeddings))
	}
	ids, seg, pos := make([]int, n*t), make([]int, n*t), make([]int, n*t)
	mask := make([]float32, n*t)
	for i := range ids {
		ids[i], seg[i], pos[i] = int(b.InputIDs[i]), int(b.SegmentIDs[i]), i%t
		mask[i] = (1 - b.TextMask[i]) * -10000
	}
	var rng *tensor.RNG
	if train {
		rng = tensor.NewRNG(b.Seed)
	}
	// [B, T, H] = LN(word + position + token type), then dropout.
	x := tensor.Add(tensor.Add(m.Word.Forward(ids, n, t), m.Position.Forward(pos, n, t)), m.TokenType.Forward(seg, n, t))
	x = tensor.Dropout(m.EmbNorm.Forward(x), m.Config.Dropout, rng, train)
	add := tensor.New(mask, n, 1, 1, t) // additive key mask
	// The explicit-backward layers ViLBERT uses, each as one tape op; the
	// pooler reads only [CLS], so the last layer computes only that
	// position.
	var cls *tensor.Tensor // [B, H]
	for i, l := range m.Layers {
		if i == len(m.Layers)-1 {
			cls = l.OpFirst(x, add, rng, train)
			break
		}
		x = l.Op(x, add, rng, train)
	}
	if cls == nil { // no layers
		cls = tensor.SelectFirst(x)
	}
	pooled := tensor.Tanh(m.Pooler.Forward(cls))
	return m.Classifier.Forward(tensor.Dropout(pooled, m.Config.Dropout, rng, train))
}
