package models

import (
	"fmt"
	"math"
	"strings"

	"mmc/ml/batch"
	"mmc/ml/blas"
	"mmc/ml/checkpoint"
	"mmc/ml/tensor"
	"mmc/ml/train"
	"mmc/ml/vilbert"
)

// Feature projection modes (model.vilbert.feature_projection): how
// region features whose width differs from v_feature_size reach ViLBERT's
// visual embedding. The projection belongs to the model, not to the
// cached features, so one feature store serves every choice.
const (
	// ProjectionTrainable is a Linear(feat_dim → v_feature_size) trained
	// with the rest of the model (the default).
	ProjectionTrainable = "trainable"
	// ProjectionFixed is the same Linear initialised from projection_seed
	// and frozen (the original project's DINOv2 setting).
	ProjectionFixed = "fixed"
	// ProjectionNone feeds the features as they are: their width must be
	// v_feature_size.
	ProjectionNone = "none"
)

// Checkpoint keys of the projection, beside ViLBERT's own.
const (
	ProjectionWeightKey = "feature_projection.weight" // [v_feature_size, feat_dim]
	ProjectionBiasKey   = "feature_projection.bias"   // [v_feature_size]
)

// projectionMode returns the mode c asks for ("" means trainable).
func (c ViLBERTParams) projectionMode() (string, error) {
	switch c.FeatureProjection {
	case "", ProjectionTrainable:
		return ProjectionTrainable, nil
	case ProjectionFixed, ProjectionNone:
		return c.FeatureProjection, nil
	}
	return "", fmt.Errorf("vilbert: feature_projection %q: want %s, %s or %s", c.FeatureProjection, ProjectionTrainable, ProjectionFixed, ProjectionNone)
}

// ProjectedViLBERT is ViLBERT behind a linear projection of its region
// features: y = x·Wᵀ + b maps feat_dim-wide features (DINOv2's 1024,
// the multi-layer 4096) to v_feature_size before the visual embedding.
// The projection's weights are saved and loaded with the model under
// feature_projection.weight / .bias; when frozen (fixed) they are
// still saved, so a checkpoint rebuilds the same model whatever seed.
type ProjectedViLBERT struct {
	Inner  vilbert.Trainable
	Weight *tensor.Tensor // [out, in]
	Bias   *tensor.Tensor // [out]
	Mode   string         // trainable or fixed

	in, out int
	x       []float32 // the last Forward's batch features [N, in]
	n       int       // rows of x
	proj    []float32 // projected features [N, out]
	b       batch.Batch
	dw, db  []float32 // gradient scratch for BackwardApply
}

// newProjected wraps m behind a fresh projection in → out, initialised
// as PyTorch's nn.Linear (uniform ±1/√in for weight and bias) from seed.
func newProjected(m vilbert.Trainable, in, out int, mode string, seed uint64) *ProjectedViLBERT {
	p := &ProjectedViLBERT{Inner: m, Mode: mode, in: in, out: out}
	rng := tensor.NewRNG(seed ^ 0x9e3779b97f4a7c15)
	bound := float32(1 / math.Sqrt(float64(in)))
	w := make([]float32, out*in)
	for i := range w {
		w[i] = (2*rng.Float32() - 1) * bound
	}
	b := make([]float32, out)
	for i := range b {
		b[i] = (2*rng.Float32() - 1) * bound
	}
	p.Weight = tensor.New(w, out, in).SetRequiresGrad(mode == ProjectionTrainable)
	p.Bias = tensor.New(b, out).SetRequiresGrad(mode == ProjectionTrainable)
	m.M.InputGrads = mode == ProjectionTrainable
	return p
}

// Forward projects the batch's features and runs ViLBERT on them.
func (p *ProjectedViLBERT) Forward(b *batch.Batch, training bool) ([]float32, error) {
	if b.FeatDim != p.in {
		return nil, fmt.Errorf("vilbert feature_projection: batch features are %d wide, the projection takes %d", b.FeatDim, p.in)
	}
	n := b.Size * b.Regions
	if len(b.Features) != n*p.in {
		return nil, fmt.Errorf("vilbert feature_projection: %d feature values for %d×%d regions of width %d", len(b.Features), b.Size, b.Regions, p.in)
	}
	p.n = n
	p.x = b.Features
	if cap(p.proj) < n*p.out {
		p.proj = make([]float32, n*p.out)
	}
	y := p.proj[:n*p.out]
	for r := 0; r < n; r++ {
		copy(y[r*p.out:(r+1)*p.out], p.Bias.Data)
	}
	if n > 0 {
		blas.Sgemm(false, true, n, p.out, p.in, 1, p.x, p.in, p.Weight.Data, p.in, 1, y, p.out)
	}
	p.b = *b
	p.b.Features = y
	p.b.FeatDim = p.out
	return p.Inner.Forward(&p.b, training)
}

// grads accumulates the projection's gradients from ViLBERT's feature
// gradient into dw and db.
func (p *ProjectedViLBERT) grads(dw, db []float32) error {
	dy, _ := p.Inner.M.InputGradients()
	if len(dy) != p.n*p.out {
		return fmt.Errorf("vilbert feature_projection: feature gradient has %d values, want %d", len(dy), p.n*p.out)
	}
	if p.n == 0 {
		return nil
	}
	blas.Sgemm(true, false, p.out, p.in, p.n, 1, dy, p.out, p.x, p.in, 1, dw, p.in)
	for r := 0; r < p.n; r++ {
		for j, v := range dy[r*p.out : (r+1)*p.out] {
			db[j] += v
		}
	}
	return nil
}

// Backward propagates through ViLBERT and, when trainable, into the
// projection's Grad.
func (p *ProjectedViLBERT) Backward(dlogits []float32) error {
	if err := p.Inner.Backward(dlogits); err != nil {
		return err
	}
	if p.Mode != ProjectionTrainable {
		return nil
	}
	for _, t := range []*tensor.Tensor{p.Weight, p.Bias} {
		if len(t.Grad) != len(t.Data) {
			t.Grad = make([]float32, len(t.Data))
		}
	}
	return p.grads(p.Weight.Grad, p.Bias.Grad)
}

// BackwardApply is Backward with the optimizer update inside (see
// vilbert.Model.BackwardApply); the projection is updated last.
func (p *ProjectedViLBERT) BackwardApply(dlogits []float32, apply func(*tensor.Tensor) error) error {
	if err := p.Inner.BackwardApply(dlogits, apply); err != nil {
		return err
	}
	if p.Mode != ProjectionTrainable {
		return nil
	}
	p.dw = zeroed(p.dw, len(p.Weight.Data))
	p.db = zeroed(p.db, len(p.Bias.Data))
	if err := p.grads(p.dw, p.db); err != nil {
		return err
	}
	for _, g := range []struct {
		t *tensor.Tensor
		g []float32
	}{{p.Weight, p.dw}, {p.Bias, p.db}} {
		g.t.Grad = g.g
		err := apply(g.t)
		g.t.Grad = nil
		if err != nil {
			return fmt.Errorf("vilbert feature_projection: update inside backward: %w", err)
		}
	}
	return nil
}

func zeroed(b []float32, n int) []float32 {
	if cap(b) < n {
		return make([]float32, n)
	}
	b = b[:n]
	clear(b)
	return b
}

// Params lists ViLBERT's parameters, then the projection's.
func (p *ProjectedViLBERT) Params() []train.Param {
	return append(p.Inner.Params(),
		train.Param{Name: ProjectionWeightKey, Tensor: p.Weight},
		train.Param{Name: ProjectionBiasKey, Tensor: p.Bias})
}

// loadProjection copies the projection's two tensors from sd.
func (p *ProjectedViLBERT) loadProjection(sd checkpoint.StateDict) error {
	for _, k := range []struct {
		key string
		t   *tensor.Tensor
	}{{ProjectionWeightKey, p.Weight}, {ProjectionBiasKey, p.Bias}} {
		a, ok := sd[k.key]
		if !ok {
			return fmt.Errorf("%q missing: the checkpoint's model has no feature projection %d → %d (trained on %d-wide features?)", k.key, p.in, p.out, p.out)
		}
		if len(a.Data) != len(k.t.Data) || len(a.Shape) != len(k.t.Shape) {
			return fmt.Errorf("%q: saved shape %v, model shape %v", k.key, a.Shape, k.t.Shape)
		}
		for i := range a.Shape {
			if a.Shape[i] != k.t.Shape[i] {
				return fmt.Errorf("%q: saved shape %v, model shape %v", k.key, a.Shape, k.t.Shape)
			}
		}
		copy(k.t.Data, a.Data)
	}
	return nil
}

// withoutProjection drops the projection's keys from a list of
// checkpoint keys ViLBERT had no place for.
func withoutProjection(keys []string) []string {
	out := keys[:0:0]
	for _, k := range keys {
		if !strings.HasPrefix(k, "feature_projection.") {
			out = append(out, k)
		}
	}
	return out
}

var (
	_ train.Model           = (*ProjectedViLBERT)(nil)
	_ train.InBackwardModel = (*ProjectedViLBERT)(nil)
)
