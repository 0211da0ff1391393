package vision

import (
	"context"
	"fmt"
	"image"
	"sync"

	"mmc/features"
	"mmc/ml/kernels"
)

// RoIParams configure resnet152_roi.
type RoIParams struct {
	// ImageSize is the side of the square model input. Default 600.
	ImageSize int `yaml:"image_size" json:"image_size"`
	// Resize is "square" (default) or "center_crop", as GridParams.Resize.
	Resize string `yaml:"resize" json:"resize"`
	// RoISize is the side of the pooled map per box. Default 14 (layer4
	// halves it to 7×7, as in Faster R-CNN's ResNet C4 head).
	RoISize int `yaml:"roi_size" json:"roi_size"`
	// Scales are the box sides as fractions of the image side, and
	// PerSide how many boxes of each scale along each axis: a k×k grid
	// of squares spread evenly from edge to edge (one centred box when
	// k = 1). The original does not say how its 36 boxes were laid out;
	// the default 5×5 at 0.25 + 3×3 at 0.5 + 1 at 0.75 + 1 at 1.0 = 36 is
	// the only square-grid layout of the four scales that gives 36.
	Scales  []float64 `yaml:"scales" json:"scales"`
	PerSide []int     `yaml:"boxes_per_side" json:"boxes_per_side"`
	// RoIOp is "align" (torchvision roi_align, aligned=True: the half-pixel
	// correct RoIAlign), "align_legacy" (aligned=False) or "pool"
	// (roi_pool, max over quantised bins). Default "align".
	RoIOp string `yaml:"roi_op" json:"roi_op"`
	// SamplingRatio is RoIAlign's samples per bin side (0: adaptive,
	// ceil(box/bins), as torchvision). Default 0.
	SamplingRatio int `yaml:"sampling_ratio" json:"sampling_ratio"`
}

func (p RoIParams) withDefaults() RoIParams {
	if p.ImageSize == 0 {
		p.ImageSize = 600
	}
	if p.RoISize == 0 {
		p.RoISize = 14
	}
	if p.Scales == nil {
		p.Scales = []float64{0.25, 0.5, 0.75, 1.0}
	}
	if p.PerSide == nil {
		p.PerSide = []int{5, 3, 1, 1}
	}
	if p.RoIOp == "" {
		p.RoIOp = "align"
	}
	return p
}

// ResNetRoI runs a ResNet base (stem + layer1–3) once per image, pools
// fixed multi-scale boxes from it, runs layer4 on the pooled boxes as a
// batch and averages each box's map: one 2048-d vector per box.
type ResNetRoI struct {
	net    *ResNet
	p      RoIParams
	pre    Preprocess
	boxes  []float32 // in model-input pixels
	states sync.Pool
}

type roiState struct {
	ws, head            Workspace
	in                  []float32
	pooled, batch, proj []float32
	// pair holds the layer2 outputs of a pair of images, channel-major
	// [C, 2, H, W], then (once layer3 has read them) their bases
	pair []float32
}

// MultiScaleBoxes lays out the fixed proposals of resnet152_roi in an
// s×s input (see RoIParams.Scales).
func MultiScaleBoxes(s int, scales []float64, perSide []int) ([]float32, error) {
	if len(scales) != len(perSide) {
		return nil, fmt.Errorf("roi: %d scales but %d boxes_per_side", len(scales), len(perSide))
	}
	var boxes []float32
	for i, sc := range scales {
		k := perSide[i]
		if sc <= 0 || sc > 1 || k < 1 {
			return nil, fmt.Errorf("roi: scale %g (0 < s ≤ 1) or %d boxes per side out of range", sc, k)
		}
		l := sc * float64(s)
		offs := make([]float64, k)
		for j := range offs {
			if k == 1 {
				offs[j] = (float64(s) - l) / 2
			} else {
				offs[j] = float64(j) * (float64(s) - l) / float64(k-1)
			}
		}
		for _, y := range offs {
			for _, x := range offs {
				boxes = append(boxes, float32(x), float32(y), float32(x+l), float32(y+l))
			}
		}
	}
	return boxes, nil
}

// NewResNetRoI wraps a loaded ResNet as resnet152_roi.
func NewResNetRoI(net *ResNet, p RoIParams) (*ResNetRoI, error) {
	p = p.withDefaults()
	switch p.RoIOp {
	case "align", "align_legacy", "pool":
	default:
		return nil, fmt.Errorf("resnet152_roi: roi_op %q: want align, align_legacy or pool", p.RoIOp)
	}
	if p.ImageSize < 64 || p.RoISize < 2 || p.SamplingRatio < 0 {
		return nil, fmt.Errorf("resnet152_roi: image_size %d (≥ 64), roi_size %d (≥ 2) or sampling_ratio %d (≥ 0) out of range", p.ImageSize, p.RoISize, p.SamplingRatio)
	}
	boxes, err := MultiScaleBoxes(p.ImageSize, p.Scales, p.PerSide)
	if err != nil {
		return nil, fmt.Errorf("resnet152_roi: %w", err)
	}
	pre, err := preprocessFor(p.Resize, p.ImageSize, kernels.PILBilinear)
	if err != nil {
		return nil, fmt.Errorf("resnet152_roi: %w", err)
	}
	return &ResNetRoI{net: net, p: p, boxes: boxes, pre: pre}, nil
}

// NewResNet152RoI loads resnet152_roi from a torchvision ResNet
// checkpoint (depth inferred).
func NewResNet152RoI(p RoIParams, weights string) (*ResNetRoI, error) {
	sd, err := loadWeights("resnet152_roi", weights)
	if err != nil {
		return nil, err
	}
	net, err := LoadResNet(sd, Torchvision)
	if err != nil {
		return nil, fmt.Errorf("resnet152_roi: %s: %w", weights, err)
	}
	return NewResNetRoI(net, p)
}

// RandomResNetRoI is resnet152_roi on a randomly initialised ResNet.
func RandomResNetRoI(arch ResNetArch, p RoIParams, seed uint64) (*ResNetRoI, error) {
	net, err := LoadResNet(RandomResNetStateDict(arch, seed), arch.Layout)
	if err != nil {
		return nil, err
	}
	return NewResNetRoI(net, p)
}

// DemoResNet152RoI is resnet152_roi on the random DemoResNetArch.
func DemoResNet152RoI(p RoIParams, seed uint64) (*ResNetRoI, error) {
	return RandomResNetRoI(DemoResNetArch, p, seed)
}

// swapMajor turns x [a, b, plane] into y [b, a, plane].
func swapMajor(y, x []float32, a, b, plane int) {
	kernels.ParallelFor(b, a*plane, func(lo, hi int) {
		for j := lo; j < hi; j++ {
			for i := 0; i < a; i++ {
				copy(y[(j*a+i)*plane:(j*a+i+1)*plane], x[(i*b+j)*plane:(i*b+j+1)*plane])
			}
		}
	})
}

// roiScale maps image pixels onto the base: the stride of stem +
// layer1–3, as Faster R-CNN's C4 base.
const roiScale = 1.0 / 16

// headCommutes reports whether layer4's first block starts with a 1×1,
// stride-1 conv and has a 1×1, stride-2, unpadded projection shortcut
// (torchvision's bottleneck ResNets): alignHead's layout.
func (r *ResNet) headCommutes() bool {
	b := &r.stages[3][0]
	c1, d := b.conv1, b.down
	return b.conv3 != nil && d != nil &&
		c1.KH == 1 && c1.KW == 1 && c1.StrideH == 1 && c1.StrideW == 1 && c1.PadH == 0 && c1.PadW == 0 &&
		d.KH == 1 && d.KW == 1 && d.StrideH == 2 && d.StrideW == 2 && d.PadH == 0 && d.PadW == 0
}

// alignHead is RoIAlign then layer4 on the boxes, reordered where the
// two commute. RoIAlign is linear (fixed bilinear weights per bin, the
// same for every channel) and so is a 1×1 conv without its bias, so
// RoIAlign(W·x) = W·RoIAlign(x): layer4.0.conv1 runs once on the base
// (38×38 pixels at 600×600) instead of on 36 boxes of 14×14, and
// RoIAlign pools its 512 channels instead of the base's 1024; bias and
// ReLU follow the pooling. The stride-2 1×1 projection shortcut reads
// only the even bins, so those alone are pooled from the base and the
// shortcut runs at stride 1. Same arithmetic as RoIAlign then layer4 up
// to float32 rounding (the fidelity tests hold it to torchvision's).
func (e *ResNetRoI) alignHead(st *roiState, base []float32, sh Shape) ([]float32, Shape) {
	b0 := &e.net.stages[3][0]
	r, nb := e.p.RoISize, len(e.boxes)/4
	aligned := e.p.RoIOp == "align"
	lin := *b0.conv1
	lin.Bias, lin.ReLU, lin.Accumulate = nil, false, false
	proj := growTo(&st.proj, lin.OutC*sh.H*sh.W)
	lin.ForwardCNHW(proj, base, 1, sh.H, sh.W, nil)
	p1 := growTo(&st.pooled, lin.OutC*nb*r*r)
	kernels.RoIAlignCNHW(p1, proj, lin.OutC, sh.H, sh.W, e.boxes, r, r, 1, roiScale, e.p.SamplingRatio, aligned)
	kernels.BiasReLU(p1, b0.conv1.Bias, lin.OutC, nb*r*r, nb*r*r, true)

	r2 := (r + 1) / 2
	p0 := growTo(&st.batch, sh.C*nb*r2*r2)
	kernels.RoIAlignCNHW(p0, base, sh.C, sh.H, sh.W, e.boxes, r, r, 2, roiScale, e.p.SamplingRatio, aligned)
	oh, ow := b0.conv2.OutSize(r, r)
	if oh != r2 || ow != r2 {
		panic(fmt.Sprintf("resnet152_roi: layer4.0.conv2 maps %d×%d to %d×%d, the shortcut to %d×%d", r, r, oh, ow, r2, r2))
	}
	j := 0
	if st.ws.holds(base) == 0 {
		j = 1
	}
	out := st.ws.buf(j, b0.outC()*nb*oh*ow)
	short := *b0.down
	short.StrideH, short.StrideW = 1, 1
	short.ForwardCNHW(out, p0, nb, r2, r2, nil)
	t2 := st.ws.buf(3, b0.conv2.OutC*nb*oh*ow)
	b0.conv2.ForwardCNHW(t2, p1, nb, r, r, st.ws.scratch(b0.conv2.ColSizeN(nb, r, r)))
	b0.conv3.ForwardCNHW(out, t2, nb, oh, ow, nil)
	head, _, hs := e.net.blocks(&st.ws, out, j, Shape{nb, b0.outC(), oh, ow}, 4, 1)
	return head, hs
}

func (e *ResNetRoI) Name() string { return "resnet152_roi" }
func (e *ResNetRoI) Dim() int     { return e.net.Arch.OutChannels(4) }

// MaxRegions is the number of fixed boxes (36 by default).
func (e *ResNetRoI) MaxRegions() int { return len(e.boxes) / 4 }

// roiPair is how many images run layer3 together. Layer3 is most of
// the work, and on one 600×600 image its products are narrow (1444
// pixels, 100 Winograd tiles): two images side by side make them twice
// as wide, share one Winograd filter transform per convolution and halve
// the number of parallel regions, 15–23 % less time per image in layer3
// (BenchmarkResNet152Layer3Pair: 323 → 250 ms). Only layer3 is paired:
// its input is the smallest activation to hold twice (512×75×75 per
// image), and the stages before it already make wide products.
const roiPair = 2

// Extract implements Extractor. Images run in pairs (roiPair): stem to
// layer2 one at a time, layer3 on both, then each image's boxes.
func (e *ResNetRoI) Extract(ctx context.Context, images []image.Image) ([]features.Record, error) {
	st, _ := e.states.Get().(*roiState)
	if st == nil {
		st = &roiState{}
	}
	defer e.states.Put(st)
	s := e.p.ImageSize
	st.in = growTo(&st.in, 3*s*s)
	out := make([]features.Record, 0, len(images))
	for i0 := 0; i0 < len(images); i0 += roiPair {
		group := images[i0:min(i0+roiPair, len(images))]
		n := len(group)
		frames := make([]Frame, n)
		var mid Shape
		for k, img := range group {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
			f, err := e.pre.Apply(img, st.in)
			if err != nil {
				return nil, fmt.Errorf("resnet152_roi: image %d: %w", i0+k, err)
			}
			frames[k] = f
			y, sh := e.net.Forward(&st.ws, st.in, Shape{1, 3, s, s}, 0, 2)
			// image k's planes go to slot k of the channel-major batch
			mid = Shape{n, sh.C, sh.H, sh.W}
			pair := growTo(&st.pair, mid.Len())
			plane := sh.H * sh.W
			kernels.ParallelFor(sh.C, plane, func(lo, hi int) {
				for c := lo; c < hi; c++ {
					copy(pair[(c*n+k)*plane:(c*n+k+1)*plane], y[c*plane:(c+1)*plane])
				}
			})
		}
		base, bs := e.net.Forward(&st.ws, st.pair[:mid.Len()], mid, 3, 3)
		// each image's base, contiguous, in st.pair (layer3 has read it)
		plane := bs.H * bs.W
		bases := growTo(&st.pair, bs.Len())
		kernels.ParallelFor(bs.C, n*plane, func(lo, hi int) {
			for c := lo; c < hi; c++ {
				for k := 0; k < n; k++ {
					copy(bases[(k*bs.C+c)*plane:(k*bs.C+c+1)*plane], base[(c*n+k)*plane:(c*n+k+1)*plane])
				}
			}
		})
		one := Shape{1, bs.C, bs.H, bs.W}
		for k := 0; k < n; k++ {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
			out = append(out, e.boxFeatures(st, frames[k], bases[k*one.Len():(k+1)*one.Len()], one))
		}
	}
	return out, nil
}

// boxFeatures pools the boxes from one image's base (layer3 output) and
// runs layer4 on them: one 2048-d vector per box.
func (e *ResNetRoI) boxFeatures(st *roiState, f Frame, base []float32, sh Shape) features.Record {
	r := e.p.RoISize
	nb := len(e.boxes) / 4
	var (
		head []float32
		hs   Shape
	)
	if e.p.RoIOp != "pool" && e.net.headCommutes() {
		head, hs = e.alignHead(st, base, sh)
	} else {
		pooled := growTo(&st.pooled, nb*sh.C*r*r)
		switch e.p.RoIOp {
		case "pool":
			kernels.RoIPool(pooled, base, sh.C, sh.H, sh.W, e.boxes, r, r, roiScale)
		default:
			kernels.RoIAlign(pooled, base, sh.C, sh.H, sh.W, e.boxes, r, r, roiScale, e.p.SamplingRatio, e.p.RoIOp == "align")
		}
		// [boxes, C, r, r] → channel-major [C, boxes, r, r]: layer4 then
		// runs each conv as one GEMM over all boxes
		batch := growTo(&st.batch, len(pooled))
		swapMajor(batch, pooled, nb, sh.C, r*r)
		head, hs = e.net.Forward(&st.ws, batch, Shape{nb, sh.C, r, r}, 4, 4)
	}
	feats := make([]float32, nb*hs.C)
	kernels.MeanPlanesCNHW(feats, head, hs.C, nb, hs.H*hs.W)
	boxes := make([]float32, 0, len(e.boxes))
	for b := 0; b < nb; b++ {
		bx := f.Box(float64(e.boxes[4*b]), float64(e.boxes[4*b+1]), float64(e.boxes[4*b+2]), float64(e.boxes[4*b+3]))
		boxes = append(boxes, bx[:]...)
	}
	return record(f, hs.C, feats, boxes)
}
