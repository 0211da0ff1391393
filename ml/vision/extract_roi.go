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
	ws, head      Workspace
	in            []float32
	pooled, batch []float32
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

func (e *ResNetRoI) Name() string { return "resnet152_roi" }
func (e *ResNetRoI) Dim() int     { return e.net.Arch.OutChannels(4) }

// MaxRegions is the number of fixed boxes (36 by default).
func (e *ResNetRoI) MaxRegions() int { return len(e.boxes) / 4 }

// Extract implements Extractor.
func (e *ResNetRoI) Extract(ctx context.Context, images []image.Image) ([]features.Record, error) {
	st, _ := e.states.Get().(*roiState)
	if st == nil {
		st = &roiState{}
	}
	defer e.states.Put(st)
	s, r := e.p.ImageSize, e.p.RoISize
	nb := len(e.boxes) / 4
	st.in = growTo(&st.in, 3*s*s)
	out := make([]features.Record, len(images))
	for i, img := range images {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		f, err := e.pre.Apply(img, st.in)
		if err != nil {
			return nil, fmt.Errorf("resnet152_roi: image %d: %w", i, err)
		}
		base, sh := e.net.Forward(&st.ws, st.in, Shape{1, 3, s, s}, 0, 3)
		const scale = 1.0 / 16 // the stride of stem + layer1–3, as Faster R-CNN's C4 base
		pooled := growTo(&st.pooled, nb*sh.C*r*r)
		switch e.p.RoIOp {
		case "pool":
			kernels.RoIPool(pooled, base, sh.C, sh.H, sh.W, e.boxes, r, r, scale)
		default:
			kernels.RoIAlign(pooled, base, sh.C, sh.H, sh.W, e.boxes, r, r, scale, e.p.SamplingRatio, e.p.RoIOp == "align")
		}
		// [boxes, C, r, r] → channel-major [C, boxes, r, r]: layer4 then runs
		// each conv as one GEMM over all boxes
		batch := growTo(&st.batch, len(pooled))
		swapMajor(batch, pooled, nb, sh.C, r*r)
		head, hs := e.net.Forward(&st.ws, batch, Shape{nb, sh.C, r, r}, 4, 4)
		feats := make([]float32, nb*hs.C)
		plane := hs.H * hs.W
		kernels.ParallelFor(hs.C, nb*plane, func(lo, hi int) {
			for c := lo; c < hi; c++ {
				for b := 0; b < nb; b++ {
					var sum float32
					for _, v := range head[(c*nb+b)*plane : (c*nb+b+1)*plane] {
						sum += v
					}
					feats[b*hs.C+c] = sum / float32(plane)
				}
			}
		})
		boxes := make([]float32, 0, len(e.boxes))
		for b := 0; b < nb; b++ {
			bx := f.Box(float64(e.boxes[4*b]), float64(e.boxes[4*b+1]), float64(e.boxes[4*b+2]), float64(e.boxes[4*b+3]))
			boxes = append(boxes, bx[:]...)
		}
		out[i] = record(f, hs.C, feats, boxes)
	}
	return out, nil
}
