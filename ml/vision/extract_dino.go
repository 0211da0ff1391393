package vision

import (
	"context"
	"fmt"
	"image"
	"math"
	"sort"
	"sync"

	"mmc/features"
	"mmc/ml/kernels"
)

// DINOv2Params configure dinov2 and dinov2_multilayer.
type DINOv2Params struct {
	// ImageSize is the side of the square model input, a multiple of the
	// patch size: the image is resized to it with Pillow's bicubic filter
	// (DINOv2's eval transform interpolation) and normalised with the
	// ImageNet constants. Default 518 (37×37 patches for ViT-L/14).
	ImageSize int `yaml:"image_size" json:"image_size"`
	// Resize is "square" (default) or "center_crop", as GridParams.Resize.
	Resize string `yaml:"resize" json:"resize"`
	// MaxRegions is how many regions each image gets. For "interpolate"
	// it must be a square (36 → 6×6, 100 → 10×10). Default 36.
	MaxRegions int `yaml:"max_regions" json:"max_regions"`
	// RegionSelection is "interpolate" (bilinear resampling of the patch
	// grid to √R×√R, F.interpolate with align_corners=False; boxes are
	// the resampled cells) or "attention" (the R patches with the most
	// last-block [CLS] attention averaged over heads, kept in grid order;
	// boxes are the patches). Default "interpolate".
	RegionSelection string `yaml:"region_selection" json:"region_selection"`
	// Layers are the 1-based blocks whose outputs dinov2_multilayer fuses
	// (default [6, 12, 18, 24]). Each output goes through the final
	// LayerNorm first, as get_intermediate_layers(norm=True) does, so the
	// last entry equals the single-layer features. dinov2 ignores it.
	Layers []int `yaml:"layers" json:"layers"`
	// Fusion is "concat" (features side by side, layer order: 4×1024 =
	// 4096-d) or "mean". Default "concat". Multi-layer extraction always
	// selects regions by interpolation.
	Fusion string `yaml:"fusion" json:"fusion"`
}

func (p DINOv2Params) withDefaults(multi bool) DINOv2Params {
	if p.ImageSize == 0 {
		p.ImageSize = 518
	}
	if p.MaxRegions == 0 {
		p.MaxRegions = 36
	}
	if p.RegionSelection == "" || multi {
		p.RegionSelection = "interpolate"
	}
	if multi && p.Layers == nil {
		p.Layers = []int{6, 12, 18, 24}
	}
	if p.Fusion == "" {
		p.Fusion = "concat"
	}
	return p
}

// DINOv2 extracts patch-token regions from a DINOv2 ViT: dinov2 (last
// block) or dinov2_multilayer (several blocks fused).
type DINOv2 struct {
	name   string
	vit    *ViT
	p      DINOv2Params
	grid   int // side of the interpolated grid
	pre    Preprocess
	states sync.Pool
}

type dinoState struct {
	ws           ViTWorkspace
	in           []float32
	cm, rs, rows []float32 // token map, resampled map, region rows
}

// NewDINOv2FromViT wraps a loaded ViT as dinov2 (multi false) or
// dinov2_multilayer (multi true).
func NewDINOv2FromViT(vit *ViT, p DINOv2Params, multi bool) (*DINOv2, error) {
	name := "dinov2"
	if multi {
		name = "dinov2_multilayer"
	}
	p = p.withDefaults(multi)
	pre, err := preprocessFor(p.Resize, p.ImageSize, kernels.PILBicubic)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	e := &DINOv2{name: name, vit: vit, p: p, pre: pre}
	a := vit.Arch
	if p.ImageSize%a.Patch != 0 || p.ImageSize < a.Patch {
		return nil, fmt.Errorf("%s: image_size %d is not a multiple of the %d-pixel patch", name, p.ImageSize, a.Patch)
	}
	np := (p.ImageSize / a.Patch) * (p.ImageSize / a.Patch)
	switch p.RegionSelection {
	case "interpolate":
		e.grid = int(math.Round(math.Sqrt(float64(p.MaxRegions))))
		if e.grid*e.grid != p.MaxRegions || e.grid < 1 {
			return nil, fmt.Errorf("%s: max_regions %d is not a square grid (36, 100 …) as interpolate needs", name, p.MaxRegions)
		}
	case "attention":
		if p.MaxRegions < 1 || p.MaxRegions > np {
			return nil, fmt.Errorf("%s: max_regions %d outside 1…%d patches", name, p.MaxRegions, np)
		}
	default:
		return nil, fmt.Errorf("%s: region_selection %q: want interpolate or attention", name, p.RegionSelection)
	}
	if !multi {
		e.p.Layers = []int{a.Depth}
	}
	for _, l := range e.p.Layers {
		if l < 1 || l > a.Depth {
			return nil, fmt.Errorf("%s: layer %d outside the checkpoint's blocks 1…%d", name, l, a.Depth)
		}
	}
	if len(e.p.Layers) == 0 {
		return nil, fmt.Errorf("%s: no layers to fuse", name)
	}
	if p.Fusion != "concat" && p.Fusion != "mean" {
		return nil, fmt.Errorf("%s: fusion %q: want concat or mean", name, p.Fusion)
	}
	return e, nil
}

// NewDINOv2 loads dinov2 from a DINOv2 hub checkpoint
// (dinov2_vitl14_pretrain.pth, dinov2_vitl14_reg4_pretrain.pth or any
// size: the architecture is inferred).
func NewDINOv2(p DINOv2Params, weights string) (*DINOv2, error) {
	return loadDINOv2(p, weights, false)
}

// NewDINOv2Multilayer loads dinov2_multilayer from a DINOv2 hub checkpoint.
func NewDINOv2Multilayer(p DINOv2Params, weights string) (*DINOv2, error) {
	return loadDINOv2(p, weights, true)
}

func loadDINOv2(p DINOv2Params, weights string, multi bool) (*DINOv2, error) {
	name := map[bool]string{false: "dinov2", true: "dinov2_multilayer"}[multi]
	sd, err := loadWeights(name, weights)
	if err != nil {
		return nil, err
	}
	vit, err := LoadViT(sd)
	if err != nil {
		return nil, fmt.Errorf("%s: %s: %w", name, weights, err)
	}
	return NewDINOv2FromViT(vit, p, multi)
}

// The demo backbone of the DINOv2 extractors when no weight file is
// present: a randomly initialised ViT of width 128 (2 heads), 4 blocks,
// patch 14, a 16×16 position grid, no registers.
const (
	demoViTWidth = 128
	demoViTDepth = 4
)

// DemoDINOv2 is dinov2 on the random demo ViT (128-d features).
func DemoDINOv2(p DINOv2Params, seed uint64) (*DINOv2, error) {
	return demoDINOv2(p, seed, false)
}

// DemoDINOv2Multilayer is dinov2_multilayer on the random demo ViT; with
// no layers given it fuses all 4 blocks.
func DemoDINOv2Multilayer(p DINOv2Params, seed uint64) (*DINOv2, error) {
	if p.Layers == nil {
		p.Layers = []int{1, 2, 3, 4}
	}
	return demoDINOv2(p, seed, true)
}

func demoDINOv2(p DINOv2Params, seed uint64, multi bool) (*DINOv2, error) {
	vit, err := LoadViT(RandomViTStateDict(demoViTWidth, demoViTDepth, 14, 16, 0, seed))
	if err != nil {
		return nil, err
	}
	return NewDINOv2FromViT(vit, p, multi)
}

func (e *DINOv2) Name() string { return e.name }

// MaxRegions is max_regions.
func (e *DINOv2) MaxRegions() int { return e.p.MaxRegions }

// Dim is the ViT width, times the number of layers when concatenated.
func (e *DINOv2) Dim() int {
	if e.p.Fusion == "concat" {
		return e.vit.Arch.Width * len(e.p.Layers)
	}
	return e.vit.Arch.Width
}

// Extract implements Extractor.
func (e *DINOv2) Extract(ctx context.Context, images []image.Image) ([]features.Record, error) {
	st, _ := e.states.Get().(*dinoState)
	if st == nil {
		st = &dinoState{}
	}
	defer e.states.Put(st)
	s := e.p.ImageSize
	d := e.vit.Arch.Width
	st.in = growTo(&st.in, 3*s*s)
	out := make([]features.Record, len(images))
	for i, img := range images {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		f, err := e.pre.Apply(img, st.in)
		if err != nil {
			return nil, fmt.Errorf("%s: image %d: %w", e.name, i, err)
		}
		o, err := e.vit.Forward(&st.ws, st.in, s, s, e.p.Layers, e.p.RegionSelection == "attention")
		if err != nil {
			return nil, fmt.Errorf("%s: image %d: %w", e.name, i, err)
		}
		if e.p.RegionSelection == "attention" {
			feats, boxes := e.topPatches(o, f)
			out[i] = record(f, d, feats, boxes)
			continue
		}
		g := e.grid
		r := g * g
		feats := make([]float32, r*e.Dim())
		cm := growTo(&st.cm, d*o.HP*o.WP)
		rs := growTo(&st.rs, d*r)
		rows := growTo(&st.rows, r*d)
		for li, tok := range o.Blocks {
			// tokens [hp·wp, D] → map [D, hp, wp] → [D, g, g] → rows [g², D]
			transposeCHW(cm, tok, o.HP*o.WP, d)
			kernels.Interpolate(rs, cm, d, o.HP, o.WP, g, g, kernels.Interp{Mode: kernels.Bilinear})
			transposeCHW(rows, rs, d, r)
			for j := 0; j < r; j++ {
				src := rows[j*d : (j+1)*d]
				if e.p.Fusion == "concat" {
					copy(feats[j*e.Dim()+li*d:], src)
					continue
				}
				dst := feats[j*d : (j+1)*d]
				for c, v := range src {
					dst[c] += v / float32(len(o.Blocks))
				}
			}
		}
		out[i] = record(f, e.Dim(), feats, gridBoxes(f, g))
	}
	return out, nil
}

// topPatches keeps the MaxRegions patches with the most [CLS] attention
// (mean over heads of the last block), in grid order.
func (e *DINOv2) topPatches(o ViTOutput, f Frame) (feats, boxes []float32) {
	a := e.vit.Arch
	n := 1 + a.Registers + o.HP*o.WP
	np := o.HP * o.WP
	score := make([]float64, np)
	for h := 0; h < a.Heads; h++ {
		row := o.CLSAttention[h*n+1+a.Registers : (h+1)*n]
		for p, v := range row {
			score[p] += float64(v)
		}
	}
	idx := make([]int, np)
	for i := range idx {
		idx[i] = i
	}
	sort.SliceStable(idx, func(i, j int) bool { return score[idx[i]] > score[idx[j]] })
	keep := idx[:e.p.MaxRegions]
	sort.Ints(keep)
	d := a.Width
	tok := o.Blocks[len(o.Blocks)-1]
	ps := float64(a.Patch)
	for _, p := range keep {
		feats = append(feats, tok[p*d:(p+1)*d]...)
		y, x := float64(p/o.WP), float64(p%o.WP)
		b := f.Box(x*ps, y*ps, (x+1)*ps, (y+1)*ps)
		boxes = append(boxes, b[:]...)
	}
	return feats, boxes
}
