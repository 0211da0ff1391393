package vision

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strconv"

	"mmc/ml/checkpoint"
	"mmc/ml/kernels"
)

// Layout names where a ResNet's weights sit in a checkpoint and the two
// details that differ between the torchvision and the Caffe-converted
// (Faster R-CNN) networks.
type Layout int

const (
	// Torchvision is torchvision.models.resnet*: keys conv1, bn1,
	// layer1…layer4; a bottleneck strides in its 3×3 conv (ResNet v1.5);
	// the stem max-pool is 3×3/2 with padding 1.
	Torchvision Layout = iota
	// CaffeVG is the ResNet-101 inside the Visual Genome Faster R-CNN
	// (faster_rcnn_res101_vg.pth of the bottom-up-attention PyTorch ports,
	// jwyang/faster-rcnn.pytorch's resnet.py): RCNN_base = Sequential(conv1,
	// bn1, relu, maxpool, layer1, layer2, layer3) so keys RCNN_base.0 (conv1),
	// RCNN_base.1 (bn1), RCNN_base.4–6 (layer1–3), and RCNN_top.0 (layer4);
	// a bottleneck strides in its first 1×1 conv (Caffe's ResNet v1); the
	// stem max-pool is 3×3/2, no padding, ceil mode.
	CaffeVG
)

func (l Layout) String() string {
	if l == CaffeVG {
		return "caffe-vg"
	}
	return "torchvision"
}

func (l Layout) stemKeys() (conv, bn string) {
	if l == CaffeVG {
		return "RCNN_base.0", "RCNN_base.1"
	}
	return "conv1", "bn1"
}

// stageKey is the key prefix of layer s (1–4).
func (l Layout) stageKey(s int) string {
	if l == CaffeVG {
		if s == 4 {
			return "RCNN_top.0"
		}
		return "RCNN_base." + strconv.Itoa(s+3)
	}
	return "layer" + strconv.Itoa(s)
}

func (l Layout) stemPool() kernels.MaxPool2D {
	if l == CaffeVG {
		return kernels.MaxPool2D{K: 3, S: 2, CeilMode: true}
	}
	return kernels.MaxPool2D{K: 3, S: 2, P: 1}
}

// ResNetArch is what a checkpoint says about a ResNet: blocks per stage,
// the block type and the stem width (64 for every torchvision size).
type ResNetArch struct {
	Layers     [4]int
	Bottleneck bool
	Width      int
	Layout     Layout
}

// Depth is the conventional name of the network (18, 50, 101, 152 …):
// weighted layers counted as torchvision's names do.
func (a ResNetArch) Depth() int {
	per := 2
	if a.Bottleneck {
		per = 3
	}
	return per*(a.Layers[0]+a.Layers[1]+a.Layers[2]+a.Layers[3]) + 2
}

// OutChannels is the channel count after layer s (1–4).
func (a ResNetArch) OutChannels(s int) int {
	c := a.Width << (s - 1)
	if a.Bottleneck {
		c *= 4
	}
	return c
}

func (a ResNetArch) String() string {
	kind := "basic"
	if a.Bottleneck {
		kind = "bottleneck"
	}
	return fmt.Sprintf("ResNet-%d (%s, blocks %v, width %d, %s layout)", a.Depth(), kind, a.Layers, a.Width, a.Layout)
}

// block is one residual block with its BatchNorms folded into the convs;
// conv3 is nil for a basic block, down nil without a projection shortcut.
type block struct {
	conv1, conv2, conv3, down *kernels.Conv2D
}

// ResNet is a frozen ResNet trunk (no classifier): stem, then layer1–4.
type ResNet struct {
	Arch   ResNetArch
	stem   *kernels.Conv2D
	pool   kernels.MaxPool2D
	stages [4][]block
}

// LoadResNet builds a ResNet from a state dict in the given layout,
// inferring depth and width from the keys and shapes: blocks are counted
// per stage, a conv3 in the first block means bottlenecks. A missing or
// misshapen tensor is an error naming its key. fc.* and
// num_batches_tracked are ignored. The ResNet takes over sd's conv
// weights (BatchNorms are folded into them in place): do not reuse sd.
func LoadResNet(sd checkpoint.StateDict, layout Layout) (*ResNet, error) {
	ld := loader{sd: sd}
	stemConv, stemBN := layout.stemKeys()
	stem, err := ld.convBN(stemConv, stemBN, 2, false)
	if err != nil {
		return nil, err
	}
	stem.ReLU = true
	arch := ResNetArch{Width: stem.OutC, Layout: layout}
	_, arch.Bottleneck = sd[layout.stageKey(1)+".0.conv3.weight"]
	r := &ResNet{stem: stem, pool: layout.stemPool()}
	inC := stem.OutC
	for s := 1; s <= 4; s++ {
		prefix := layout.stageKey(s)
		stride := 2
		if s == 1 {
			stride = 1
		}
		for b := 0; ; b++ {
			p := prefix + "." + strconv.Itoa(b)
			if _, ok := sd[p+".conv1.weight"]; !ok {
				if b == 0 {
					return nil, fmt.Errorf("resnet (%s layout): checkpoint has no %q: not a ResNet of this layout, or a truncated file", layout, p+".conv1.weight")
				}
				break
			}
			blk, err := ld.block(p, arch.Bottleneck, layout, stride, inC)
			if err != nil {
				return nil, err
			}
			stride = 1
			inC = blk.outC()
			r.stages[s-1] = append(r.stages[s-1], blk)
		}
		arch.Layers[s-1] = len(r.stages[s-1])
		if want := arch.OutChannels(s); inC != want {
			return nil, fmt.Errorf("resnet: %s ends with %d channels, want %d for stem width %d", prefix, inC, want, arch.Width)
		}
	}
	r.Arch = arch
	return r, nil
}

// DefaultWinograd is the Winograd tile LoadResNet sets on every conv:
// the stride-1 3×3 convs (about half of a bottleneck ResNet's
// multiplications) run as Winograd F(4×4, 3×3), 4× fewer multiplications
// (kernels.Conv2D.Winograd; other geometries ignore it). Against F(2×2)
// it was 30 % faster on layer2's and the RoI head's 3×3 convs
// (BenchmarkConv2DWinograd) and even on layer3's narrow ones; the
// fidelity tests hold it to torchvision at 1e-4 (1e-5 per stage).
const DefaultWinograd = 4

// SetWinograd sets the Winograd tile of every conv (0: im2col; 2 or 4:
// F(2×2, 3×3) or F(4×4, 3×3) where the geometry allows). Not while a
// Forward runs.
func (r *ResNet) SetWinograd(m int) {
	r.stem.Winograd = m
	for s := range r.stages {
		for i := range r.stages[s] {
			b := &r.stages[s][i]
			for _, c := range []*kernels.Conv2D{b.conv1, b.conv2, b.conv3, b.down} {
				if c != nil {
					c.Winograd = m
				}
			}
		}
	}
}

func (b *block) outC() int {
	if b.conv3 != nil {
		return b.conv3.OutC
	}
	return b.conv2.OutC
}

// loader reads convolutions and BatchNorms by key with errors naming them.
type loader struct{ sd checkpoint.StateDict }

func (l loader) get(key string, dims ...int) (*checkpoint.Array, error) {
	a, ok := l.sd[key]
	if !ok {
		return nil, fmt.Errorf("checkpoint has no %q (wrong model file, or a truncated one)", key)
	}
	if err := a.Check(key); err != nil {
		return nil, err
	}
	if len(dims) > 0 {
		if len(a.Shape) != len(dims) {
			return nil, fmt.Errorf("%q has shape %v, want %d dimensions", key, a.Shape, len(dims))
		}
		for i, d := range dims {
			if d >= 0 && a.Shape[i] != d {
				return nil, fmt.Errorf("%q has shape %v, want %v (-1: any)", key, a.Shape, dims)
			}
		}
	}
	return a, nil
}

// convBN loads a bias-free conv and folds the BatchNorm that follows it;
// padding is half the kernel, as in every ResNet conv.
func (l loader) convBN(convKey, bnKey string, stride int, wantIn bool, inC ...int) (*kernels.Conv2D, error) {
	in := -1
	if wantIn {
		in = inC[0]
	}
	w, err := l.get(convKey+".weight", -1, in, -1, -1)
	if err != nil {
		return nil, err
	}
	out := w.Shape[0]
	var bn [4][]float32
	for i, name := range []string{"weight", "bias", "running_mean", "running_var"} {
		a, err := l.get(bnKey+"."+name, out)
		if err != nil {
			return nil, err
		}
		bn[i] = a.Data
	}
	fb, err := kernels.FoldBatchNorm(w.Data, nil, bn[0], bn[1], bn[2], bn[3], 1e-5)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", bnKey, err)
	}
	c := &kernels.Conv2D{InC: w.Shape[1], OutC: out, KH: w.Shape[2], KW: w.Shape[3],
		StrideH: stride, StrideW: stride, PadH: w.Shape[2] / 2, PadW: w.Shape[3] / 2,
		DilH: 1, DilW: 1, Groups: 1, Weight: w.Data, Bias: fb}
	c.Winograd = DefaultWinograd
	if err := c.Check(); err != nil {
		return nil, fmt.Errorf("%s: %w", convKey, err)
	}
	return c, nil
}

func (l loader) block(p string, bottleneck bool, layout Layout, stride, inC int) (block, error) {
	var b block
	var err error
	s1, s2 := 1, stride
	if layout == CaffeVG || !bottleneck {
		s1, s2 = stride, 1
	}
	if b.conv1, err = l.convBN(p+".conv1", p+".bn1", s1, true, inC); err != nil {
		return b, err
	}
	b.conv1.ReLU = true
	if b.conv2, err = l.convBN(p+".conv2", p+".bn2", s2, true, b.conv1.OutC); err != nil {
		return b, err
	}
	if bottleneck {
		b.conv2.ReLU = true
		if b.conv3, err = l.convBN(p+".conv3", p+".bn3", 1, true, b.conv2.OutC); err != nil {
			return b, err
		}
	}
	last := b.conv2
	if bottleneck {
		last = b.conv3
	}
	last.Accumulate, last.ReLU = true, true
	if _, ok := l.sd[p+".downsample.0.weight"]; ok {
		if b.down, err = l.convBN(p+".downsample.0", p+".downsample.1", stride, true, inC); err != nil {
			return b, err
		}
		if b.down.OutC != b.outC() {
			return b, fmt.Errorf("%s.downsample.0.weight has %d outputs, block has %d", p, b.down.OutC, b.outC())
		}
	} else if stride != 1 || inC != b.outC() {
		return b, fmt.Errorf("checkpoint has no %q, but block %s changes shape (stride %d, %d→%d channels)", p+".downsample.0.weight", p, stride, inC, b.outC())
	}
	return b, nil
}

// RandomResNetStateDict returns randomly initialised weights for arch in
// its layout (He-normal convs, BatchNorms with small random statistics),
// for demos and tests on machines without the real checkpoint.
func RandomResNetStateDict(arch ResNetArch, seed uint64) checkpoint.StateDict {
	rng := rand.New(rand.NewPCG(seed, 15))
	sd := checkpoint.StateDict{}
	conv := func(key string, out, in, k int) {
		w := make([]float32, out*in*k*k)
		std := math.Sqrt(2 / float64(in*k*k))
		for i := range w {
			w[i] = float32(rng.NormFloat64() * std)
		}
		sd[key+".weight"] = &checkpoint.Array{Shape: []int{out, in, k, k}, Data: w}
	}
	bn := func(key string, c int, gamma float64) {
		g, b, m, v := make([]float32, c), make([]float32, c), make([]float32, c), make([]float32, c)
		for i := range g {
			g[i] = float32(gamma * (0.9 + 0.2*rng.Float64()))
			b[i] = float32(0.05 * rng.NormFloat64())
			m[i] = float32(0.05 * rng.NormFloat64())
			v[i] = float32(0.9 + 0.2*rng.Float64())
		}
		for name, d := range map[string][]float32{"weight": g, "bias": b, "running_mean": m, "running_var": v} {
			sd[key+"."+name] = &checkpoint.Array{Shape: []int{c}, Data: d}
		}
	}
	stemConv, stemBN := arch.Layout.stemKeys()
	conv(stemConv, arch.Width, 3, 7)
	bn(stemBN, arch.Width, 1)
	inC := arch.Width
	for s := 1; s <= 4; s++ {
		planes := arch.Width << (s - 1)
		out := arch.OutChannels(s)
		for b := 0; b < arch.Layers[s-1]; b++ {
			p := arch.Layout.stageKey(s) + "." + strconv.Itoa(b)
			conv(p+".conv1", planes, inC, map[bool]int{true: 1, false: 3}[arch.Bottleneck])
			bn(p+".bn1", planes, 1)
			conv(p+".conv2", planes, planes, 3)
			if arch.Bottleneck {
				bn(p+".bn2", planes, 1)
				conv(p+".conv3", out, planes, 1)
				bn(p+".bn3", out, 0.3) // keep the residual sum from growing with depth
			} else {
				bn(p+".bn2", planes, 0.3)
			}
			if b == 0 && (s > 1 || inC != out) {
				conv(p+".downsample.0", out, inC, 1)
				bn(p+".downsample.1", out, 1)
			}
			inC = out
		}
	}
	return sd
}

// Workspace holds the activation buffers of one forward pass, reused
// from call to call; it is not safe for concurrent use (give each
// goroutine its own).
type Workspace struct {
	bufs [4][]float32
	col  []float32
}

func (ws *Workspace) buf(i, n int) []float32 {
	if cap(ws.bufs[i]) < n {
		ws.bufs[i] = make([]float32, n)
	}
	return ws.bufs[i][:n]
}

func (ws *Workspace) scratch(n int) []float32 {
	if cap(ws.col) < n {
		ws.col = make([]float32, n)
	}
	return ws.col[:n]
}

// Shape is a batch of N feature maps of C channels, H×W. ResNet stores
// batches channel-major, [C, N, H, W], so that every convolution of the
// batch is one GEMM; for N = 1 that is plain CHW.
type Shape struct{ N, C, H, W int }

// Len is the number of values.
func (s Shape) Len() int { return s.N * s.C * s.H * s.W }

// holds reports which of the two ping-pong buffers x starts (-1: neither).
func (ws *Workspace) holds(x []float32) int {
	for i := 0; i < 2; i++ {
		if len(x) > 0 && cap(ws.bufs[i]) > 0 && &ws.bufs[i][:1][0] == &x[0] {
			return i
		}
	}
	return -1
}

// Forward runs stages first…last of the trunk on x (0 = stem: conv1, BN,
// ReLU, max-pool; 1–4 = layer1–4) and returns the output, which lives in
// ws until its next use. x and the output are channel-major batches
// [C, N, H, W] (see Shape). x is not modified.
func (r *ResNet) Forward(ws *Workspace, x []float32, in Shape, first, last int) ([]float32, Shape) {
	if first < 0 || last > 4 || first > last {
		panic(fmt.Sprintf("resnet: stages %d…%d outside 0…4", first, last))
	}
	if len(x) < in.Len() {
		panic(fmt.Sprintf("resnet: input has %d values, shape %v needs %d", len(x), in, in.Len()))
	}
	cur, curBuf := x, -1 // curBuf: which of ws.bufs[0:2] holds cur (-1: the caller's)
	sh := in
	if first == 0 {
		if sh.C != r.stem.InC {
			panic(fmt.Sprintf("resnet: input has %d channels, stem wants %d", sh.C, r.stem.InC))
		}
		oh, ow := r.stem.OutSize(sh.H, sh.W)
		t := ws.buf(2, sh.N*r.stem.OutC*oh*ow)
		r.stem.ForwardCNHW(t, cur, sh.N, sh.H, sh.W, ws.scratch(r.stem.ColSizeN(sh.N, sh.H, sh.W)))
		sh = Shape{sh.N, r.stem.OutC, oh, ow}
		ph, pw := r.pool.OutSize(oh), r.pool.OutSize(ow)
		cur, curBuf, sh = ws.buf(0, sh.N*sh.C*ph*pw), 0, Shape{sh.N, sh.C, ph, pw}
		r.pool.Forward(cur, t, sh.N*sh.C, oh, ow)
		first = 1
	}
	for s := first; s <= last; s++ {
		cur, curBuf, sh = r.blocks(ws, cur, curBuf, sh, s, 0)
	}
	return cur, sh
}

// blocks runs blocks from… of stage s (1–4) on cur, which ws.bufs[curBuf]
// holds (-1: the caller's, not modified), and returns the output and the
// buffer holding it.
func (r *ResNet) blocks(ws *Workspace, cur []float32, curBuf int, sh Shape, s, from int) ([]float32, int, Shape) {
	for i := from; i < len(r.stages[s-1]); i++ {
		b := &r.stages[s-1][i]
		if sh.C != b.conv1.InC {
			panic(fmt.Sprintf("resnet: layer%d.%d wants %d channels, has %d", s, i, b.conv1.InC, sh.C))
		}
		osh := b.outShape(sh)
		if b.down == nil && curBuf >= 0 {
			// identity shortcut: the last conv accumulates onto x in place
			// (x is not read after conv1), no copy
			b.forward(ws, cur[:osh.Len()], cur, sh)
			sh = osh
			continue
		}
		j := 0
		if curBuf == 0 {
			j = 1
		}
		out := ws.buf(j, osh.Len())
		b.forward(ws, out, cur, sh)
		cur, curBuf, sh = out, j, osh
	}
	return cur, curBuf, sh
}

func (b *block) outShape(in Shape) Shape {
	h, w := b.conv1.OutSize(in.H, in.W)
	h, w = b.conv2.OutSize(h, w)
	return Shape{in.N, b.outC(), h, w}
}

// forward computes out = relu(F(x) + shortcut(x)) with ws.bufs[2:4] as
// scratch: the shortcut is written into out first and the last conv
// accumulates onto it. Without a projection out may be x itself.
func (b *block) forward(ws *Workspace, out, x []float32, in Shape) {
	if b.down != nil {
		b.down.ForwardCNHW(out, x, in.N, in.H, in.W, ws.scratch(b.down.ColSizeN(in.N, in.H, in.W)))
	} else if &out[0] != &x[0] {
		kernels.ParallelFor(len(out), 1, func(lo, hi int) { copy(out[lo:hi], x[lo:hi]) })
	}
	h1, w1 := b.conv1.OutSize(in.H, in.W)
	t1 := ws.buf(2, in.N*b.conv1.OutC*h1*w1)
	b.conv1.ForwardCNHW(t1, x, in.N, in.H, in.W, ws.scratch(b.conv1.ColSizeN(in.N, in.H, in.W)))
	h2, w2 := b.conv2.OutSize(h1, w1)
	if b.conv3 != nil {
		t2 := ws.buf(3, in.N*b.conv2.OutC*h2*w2)
		b.conv2.ForwardCNHW(t2, t1, in.N, h1, w1, ws.scratch(b.conv2.ColSizeN(in.N, h1, w1)))
		b.conv3.ForwardCNHW(out, t2, in.N, h2, w2, nil)
	} else {
		b.conv2.ForwardCNHW(out, t1, in.N, h1, w1, ws.scratch(b.conv2.ColSizeN(in.N, h1, w1)))
	}
}
