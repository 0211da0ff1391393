package optim

import (
	"fmt"
	"math"
	"strconv"
	"strings"

	"mmc/ml/checkpoint"
	"mmc/ml/kernels"
	"mmc/ml/tensor"
)

// Group is a set of parameters sharing a weight decay. Names (parallel to
// Params) label parameters in errors and in saved optimizer state.
type Group struct {
	Names       []string
	Params      []*tensor.Tensor
	WeightDecay float64
}

// Named pairs a parameter with its checkpoint key.
type Named = tensor.Named

// NoDecay reports whether a parameter is exempt from weight decay by the
// rule MMF and transformers use: biases and LayerNorm weights.
func NoDecay(name string) bool {
	n := strings.ToLower(name)
	return strings.Contains(n, "bias") || strings.Contains(n, "layernorm.weight") ||
		strings.Contains(n, "layer_norm.weight") || strings.HasSuffix(n, "norm.weight")
}

// SplitDecay puts the trainable parameters into two groups: weightDecay for
// most, none for those NoDecay names. Frozen parameters are left out.
func SplitDecay(params []Named, weightDecay float64) []Group {
	decay := Group{WeightDecay: weightDecay}
	plain := Group{}
	for _, p := range params {
		if !p.Tensor.RequiresGrad() {
			continue
		}
		g := &decay
		if NoDecay(p.Name) {
			g = &plain
		}
		g.Names = append(g.Names, p.Name)
		g.Params = append(g.Params, p.Tensor)
	}
	return []Group{decay, plain}
}

// AdamWConfig holds AdamW's hyper-parameters. Zero Beta1, Beta2 and Eps
// take PyTorch's defaults (0.9, 0.999, 1e-8).
type AdamWConfig struct {
	LR    float64
	Beta1 float64
	Beta2 float64
	Eps   float64
	// Schedule scales LR by Schedule(k) on the (k+1)-th step, as
	// torch.optim.lr_scheduler.LambdaLR stepped after each optimizer step.
	// Nil means Constant.
	Schedule Schedule
}

// AdamW is torch.optim.AdamW (amsgrad off): decoupled weight decay
// p ← p·(1 − lr·wd), bias-corrected moments and ε added outside the square
// root. Parameters whose Grad is nil are skipped, as in PyTorch.
type AdamW struct {
	cfg    AdamWConfig
	groups []Group
	m, v   [][][]float32 // per group, per parameter; allocated on first update
	steps  int
	index  map[*tensor.Tensor][2]int // group and position of each parameter, for InBackward
	zeros  []float32                 // a zero gradient for ApplyRows' untouched rows
}

// NewAdamW returns an optimizer over groups. It panics if a group's Names
// and Params disagree in length (a wiring error, not a data error).
func NewAdamW(groups []Group, cfg AdamWConfig) *AdamW {
	if cfg.Beta1 == 0 {
		cfg.Beta1 = 0.9
	}
	if cfg.Beta2 == 0 {
		cfg.Beta2 = 0.999
	}
	if cfg.Eps == 0 {
		cfg.Eps = 1e-8
	}
	if cfg.Schedule == nil {
		cfg.Schedule = Constant()
	}
	o := &AdamW{cfg: cfg, groups: groups}
	for gi, g := range groups {
		if len(g.Names) != 0 && len(g.Names) != len(g.Params) {
			panic(fmt.Sprintf("optim.NewAdamW: group %d has %d names for %d parameters", gi, len(g.Names), len(g.Params)))
		}
		o.m = append(o.m, make([][]float32, len(g.Params)))
		o.v = append(o.v, make([][]float32, len(g.Params)))
	}
	return o
}

// Steps is the number of updates applied so far.
func (o *AdamW) Steps() int { return o.steps }

// LR is the learning rate the next Step will use.
func (o *AdamW) LR() float64 { return o.cfg.LR * o.cfg.Schedule(o.steps) }

// Groups returns the parameter groups.
func (o *AdamW) Groups() []Group { return o.groups }

// Params lists every parameter of every group.
func (o *AdamW) Params() []*tensor.Tensor {
	var ps []*tensor.Tensor
	for _, g := range o.groups {
		ps = append(ps, g.Params...)
	}
	return ps
}

// ZeroGrad clears every parameter's gradient.
func (o *AdamW) ZeroGrad() {
	for _, g := range o.groups {
		for _, p := range g.Params {
			p.ZeroGrad()
		}
	}
}

func (o *AdamW) name(gi, pi int) string {
	if names := o.groups[gi].Names; len(names) > pi {
		return names[pi]
	}
	return fmt.Sprintf("group%d.param%d", gi, pi)
}

// Step checks every gradient for NaN or Inf, then applies one update. A
// non-finite gradient leaves all parameters untouched and returns a
// *NonFiniteError naming the step and the first offending parameter.
func (o *AdamW) Step() error {
	for gi, g := range o.groups {
		for pi, p := range g.Params {
			if p.Grad != nil && !kernels.AllFinite(p.Grad) {
				return &NonFiniteError{Step: o.steps + 1, What: "gradient", Param: o.name(gi, pi)}
			}
		}
	}
	k := o.begin()
	for gi, g := range o.groups {
		for pi, p := range g.Params {
			if p.Grad != nil {
				o.update(k, gi, pi, p)
			}
		}
	}
	return nil
}

// stepConsts are the scalars one step shares across parameters.
type stepConsts struct {
	lr, stepSize, bc2sqrt float64
}

// begin advances the step count and returns the step's scalars.
func (o *AdamW) begin() stepConsts {
	lr := o.LR()
	o.steps++
	bc1 := 1 - math.Pow(o.cfg.Beta1, float64(o.steps))
	return stepConsts{lr: lr, stepSize: lr / bc1, bc2sqrt: math.Sqrt(1 - math.Pow(o.cfg.Beta2, float64(o.steps)))}
}

// update applies step k to parameter pi of group gi, allocating its
// moments on first use.
func (o *AdamW) update(k stepConsts, gi, pi int, p *tensor.Tensor) {
	if o.m[gi][pi] == nil {
		o.m[gi][pi] = make([]float32, len(p.Data))
		o.v[gi][pi] = make([]float32, len(p.Data))
	}
	o.updateRange(k, gi, pi, p, 0, len(p.Data), p.Grad)
}

// updateRange applies step k to values [lo, hi) of parameter pi of group
// gi with their gradient g (the moments exist).
func (o *AdamW) updateRange(k stepConsts, gi, pi int, p *tensor.Tensor, lo, hi int, g []float32) {
	b1, b2 := o.cfg.Beta1, o.cfg.Beta2
	keep := float32(1 - k.lr*o.groups[gi].WeightDecay)
	kernels.AdamW(p.Data[lo:hi], g, o.m[gi][pi][lo:hi], o.v[gi][pi][lo:hi], keep, float32(b1), float32(1-b1), float32(b2), float32(1-b2), float32(k.stepSize), float32(k.bc2sqrt), float32(o.cfg.Eps))
}

// InBackward starts one step applied a parameter at a time, as each
// gradient becomes final during the backward pass (optimizer in
// backward), so that a model need not keep every gradient until the
// step: it can reuse one buffer for all of them. The arithmetic is Step's,
// bit for bit. Unlike Step, a non-finite gradient is only found when its
// parameter comes up, after earlier parameters were updated, and gradient
// clipping or accumulation over several batches is not possible.
func (o *AdamW) InBackward() *StepInBackward {
	if o.index == nil {
		o.index = map[*tensor.Tensor][2]int{}
		for gi, g := range o.groups {
			for pi, p := range g.Params {
				o.index[p] = [2]int{gi, pi}
			}
		}
	}
	return &StepInBackward{o: o, k: o.begin(), done: make(map[*tensor.Tensor]bool)}
}

// StepInBackward is one step in progress (see AdamW.InBackward).
type StepInBackward struct {
	o    *AdamW
	k    stepConsts
	done map[*tensor.Tensor]bool
}

// Apply updates p from its final gradient p.Grad. A parameter outside the
// optimizer's groups, one applied twice in a step, or a non-finite
// gradient is an error and leaves p untouched.
func (s *StepInBackward) Apply(p *tensor.Tensor) error {
	gi, pi, err := s.locate(p)
	if err != nil {
		return err
	}
	if p.Grad == nil {
		return fmt.Errorf("optim: step %d: %s has no gradient", s.o.steps, s.o.name(gi, pi))
	}
	if len(p.Grad) != len(p.Data) {
		return fmt.Errorf("optim: step %d: %s has %d gradient values for %d weights", s.o.steps, s.o.name(gi, pi), len(p.Grad), len(p.Data))
	}
	if !kernels.AllFinite(p.Grad) {
		return &NonFiniteError{Step: s.o.steps, What: "gradient", Param: s.o.name(gi, pi)}
	}
	s.done[p] = true
	s.o.update(s.k, gi, pi, p)
	return nil
}

// locate finds p's group and index, refusing a parameter outside the
// optimizer or one already updated in this step.
func (s *StepInBackward) locate(p *tensor.Tensor) (gi, pi int, err error) {
	at, ok := s.o.index[p]
	if !ok {
		return 0, 0, fmt.Errorf("optim: step %d: parameter %v is not in the optimizer", s.o.steps, p.Shape)
	}
	gi, pi = at[0], at[1]
	if s.done[p] {
		return 0, 0, fmt.Errorf("optim: step %d: %s updated twice", s.o.steps, s.o.name(gi, pi))
	}
	return gi, pi, nil
}

// ApplyRows is Apply for a gradient given on some rows of p only (an
// embedding table's, nn.RowApply): grad holds len(rows) rows of the
// table's width for the strictly increasing indices rows, and every other
// row's gradient is 0. The update is Apply's on the dense gradient, bit
// for bit (untouched rows get AdamW with a zero gradient: their moments
// decay and the weight still moves), without the dense buffer.
func (s *StepInBackward) ApplyRows(p *tensor.Tensor, rows []int32, grad []float32) error {
	gi, pi, err := s.locate(p)
	if err != nil {
		return err
	}
	if p.Dim() < 1 || p.Shape[0] == 0 {
		return fmt.Errorf("optim: step %d: %s %v has no rows", s.o.steps, s.o.name(gi, pi), p.Shape)
	}
	n := p.Shape[0]
	w := len(p.Data) / n
	if len(grad) != len(rows)*w {
		return fmt.Errorf("optim: step %d: %s: %d gradient values for %d rows of %d", s.o.steps, s.o.name(gi, pi), len(grad), len(rows), w)
	}
	for i, r := range rows {
		if r < 0 || int(r) >= n || (i > 0 && r <= rows[i-1]) {
			return fmt.Errorf("optim: step %d: %s: row indices not increasing within [0, %d) at %d", s.o.steps, s.o.name(gi, pi), n, i)
		}
	}
	if !kernels.AllFinite(grad) {
		return &NonFiniteError{Step: s.o.steps, What: "gradient", Param: s.o.name(gi, pi)}
	}
	s.done[p] = true
	if s.o.m[gi][pi] == nil {
		s.o.m[gi][pi] = make([]float32, len(p.Data))
		s.o.v[gi][pi] = make([]float32, len(p.Data))
	}
	// Spans of untouched rows run with a shared zero gradient, in chunks.
	const chunk = 1 << 16
	if len(s.o.zeros) < chunk {
		s.o.zeros = make([]float32, chunk)
	}
	update := func(lo, hi int, g []float32) {
		s.o.updateRange(s.k, gi, pi, p, lo, hi, g)
	}
	next := 0 // first row not yet updated
	for i := 0; i <= len(rows); i++ {
		r := n // after the last touched row: the rest of the table
		if i < len(rows) {
			r = int(rows[i])
		}
		for lo := next * w; lo < r*w; lo += chunk {
			hi := min(lo+chunk, r*w)
			update(lo, hi, s.o.zeros[:hi-lo])
		}
		if r < n {
			update(r*w, (r+1)*w, grad[i*w:(i+1)*w])
		}
		next = r + 1
	}
	return nil
}

// StateDict returns the optimizer's moments keyed "<param>.exp_avg" and
// "<param>.exp_avg_sq" and metadata with the step count and
// hyper-parameters, for resuming training from a safetensors file.
func (o *AdamW) StateDict() (checkpoint.StateDict, map[string]string) {
	sd := checkpoint.StateDict{}
	for gi, g := range o.groups {
		for pi, p := range g.Params {
			if o.m[gi][pi] == nil {
				continue
			}
			shape := append([]int(nil), p.Shape...)
			name := o.name(gi, pi)
			sd[name+".exp_avg"] = &checkpoint.Array{Shape: shape, Data: append([]float32(nil), o.m[gi][pi]...)}
			sd[name+".exp_avg_sq"] = &checkpoint.Array{Shape: shape, Data: append([]float32(nil), o.v[gi][pi]...)}
		}
	}
	meta := map[string]string{
		"optimizer": "adamw",
		"step":      strconv.Itoa(o.steps),
		"lr":        strconv.FormatFloat(o.cfg.LR, 'g', -1, 64),
		"beta1":     strconv.FormatFloat(o.cfg.Beta1, 'g', -1, 64),
		"beta2":     strconv.FormatFloat(o.cfg.Beta2, 'g', -1, 64),
		"eps":       strconv.FormatFloat(o.cfg.Eps, 'g', -1, 64),
	}
	return sd, meta
}

// LoadStateDict restores moments and the step count saved by StateDict.
// Every saved moment must match a parameter of the same name and shape;
// parameters without saved moments start fresh, as in PyTorch.
func (o *AdamW) LoadStateDict(sd checkpoint.StateDict, meta map[string]string) error {
	if meta["optimizer"] != "adamw" {
		return fmt.Errorf("optimizer state: metadata optimizer=%q, want adamw", meta["optimizer"])
	}
	steps, err := strconv.Atoi(meta["step"])
	if err != nil || steps < 0 {
		return fmt.Errorf("optimizer state: bad step %q", meta["step"])
	}
	used := 0
	m := make([][][]float32, len(o.groups))
	v := make([][][]float32, len(o.groups))
	for gi, g := range o.groups {
		m[gi] = make([][]float32, len(g.Params))
		v[gi] = make([][]float32, len(g.Params))
		for pi, p := range g.Params {
			name := o.name(gi, pi)
			ma, va := sd[name+".exp_avg"], sd[name+".exp_avg_sq"]
			if ma == nil && va == nil {
				continue
			}
			for _, a := range []struct {
				key string
				arr *checkpoint.Array
			}{{name + ".exp_avg", ma}, {name + ".exp_avg_sq", va}} {
				if a.arr == nil {
					return fmt.Errorf("optimizer state: %q missing", a.key)
				}
				if err := a.arr.Check(a.key); err != nil {
					return fmt.Errorf("optimizer state: %w", err)
				}
				if len(a.arr.Data) != len(p.Data) {
					return fmt.Errorf("optimizer state: %q has shape %v, parameter has %v", a.key, a.arr.Shape, p.Shape)
				}
			}
			m[gi][pi] = append([]float32(nil), ma.Data...)
			v[gi][pi] = append([]float32(nil), va.Data...)
			used += 2
		}
	}
	if used != len(sd) {
		for _, k := range sd.Keys() {
			if !o.knows(k) {
				return fmt.Errorf("optimizer state: %q matches no parameter", k)
			}
		}
	}
	o.m, o.v, o.steps = m, v, steps
	return nil
}

func (o *AdamW) knows(key string) bool {
	for gi, g := range o.groups {
		for pi := range g.Params {
			n := o.name(gi, pi)
			if key == n+".exp_avg" || key == n+".exp_avg_sq" {
				return true
			}
		}
	}
	return false
}
