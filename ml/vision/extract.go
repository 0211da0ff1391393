package vision

import (
	"context"
	"fmt"
	"image"
	"os"
	"sync"

	"mmc/features"
	"mmc/ml/checkpoint"
	"mmc/ml/checkpoint/pytorch"
	"mmc/ml/kernels"
)

// Extractor turns decoded images into region features. Records come back
// in the order of images with ID empty (the caller names them); boxes are
// (x1, y1, x2, y2) in pixels of the original image, as every feature
// store keeps them. Extract may be called from several goroutines: each
// call takes its own workspace.
type Extractor interface {
	// Name is the extractor's registered name ("resnet152_grid").
	Name() string
	// Dim is the feature width of every region.
	Dim() int
	// MaxRegions is the number of regions every image yields.
	MaxRegions() int
	// Extract computes the regions of each image. Images are processed
	// one after the other (each product is already large enough to keep
	// every BLAS thread busy), ctx is checked between them; buffers are
	// reused across images and calls.
	Extract(ctx context.Context, images []image.Image) ([]features.Record, error)
}

// Images should be decoded with memes.DecodeImage (or LoadImage): its
// JPEG colour conversion follows libjpeg, as PIL's does, and alpha is
// dropped as PIL's convert("RGB") drops it.

// loadWeights reads a PyTorch checkpoint, saying which extractor wanted
// it and where it should be when it is missing. Objects of classes other
// than tensors (a detector checkpoint's optimizer state, configs) are kept
// as inert data, never executed, and ignored.
func loadWeights(extractor, path string) (checkpoint.StateDict, error) {
	if _, err := os.Stat(path); err != nil {
		return nil, fmt.Errorf("%s: weights %s: %w (place the checkpoint there, or use the randomly initialised demo backbone)", extractor, path, err)
	}
	sd, err := pytorch.Load(path, &pytorch.Options{Lenient: true})
	if err != nil {
		return nil, fmt.Errorf("%s: %w", extractor, err)
	}
	return sd, nil
}

// gridBoxes returns the g×g cells of a w×h model input mapped to the
// original image, row-major (the order of the grid features).
func gridBoxes(f Frame, g int) []float32 {
	boxes := make([]float32, 0, g*g*4)
	for i := 0; i < g; i++ {
		for j := 0; j < g; j++ {
			b := f.Box(float64(j*f.W)/float64(g), float64(i*f.H)/float64(g), float64((j+1)*f.W)/float64(g), float64((i+1)*f.H)/float64(g))
			boxes = append(boxes, b[:]...)
		}
	}
	return boxes
}

// transposeCHW turns a [C, n] map into [n, C] region rows.
func transposeCHW(dst, src []float32, c, n int) {
	for ch := 0; ch < c; ch++ {
		row := src[ch*n : (ch+1)*n]
		for i, v := range row {
			dst[i*c+ch] = v
		}
	}
}

func record(f Frame, dim int, feats, boxes []float32) features.Record {
	return features.Record{Dim: dim, NumBoxes: len(boxes) / 4, Features: feats, Boxes: boxes, ImageW: f.ImageW, ImageH: f.ImageH}
}

// --- resnet152_grid and resnet_vg ---

// GridParams configure a ResNet grid extractor (resnet152_grid,
// resnet_vg).
type GridParams struct {
	// ImageSize is the side of the square model input (bilinear Pillow
	// resize, ImageNet normalisation). Default 224.
	ImageSize int `yaml:"image_size" json:"image_size"`
	// Resize is "square" (default: the whole image resized to the input,
	// aspect ratio ignored) or "center_crop" (short side to
	// ImageSize·256/224, then the centre crop, torchvision's preset).
	Resize string `yaml:"resize" json:"resize"`
	// GridSize is the side of the adaptive average pool on layer4: 6 gives
	// 36 regions. Default 6.
	GridSize int `yaml:"grid_size" json:"grid_size"`
}

func (p GridParams) withDefaults() GridParams {
	if p.ImageSize == 0 {
		p.ImageSize = 224
	}
	if p.GridSize == 0 {
		p.GridSize = 6
	}
	return p
}

// ResNetGrid pools a ResNet's layer4 map into a grid of regions.
type ResNetGrid struct {
	name   string
	net    *ResNet
	p      GridParams
	pre    Preprocess
	states sync.Pool
}

type resnetState struct {
	ws Workspace
	in []float32
}

// NewResNetGrid wraps a loaded ResNet as the grid extractor name.
func NewResNetGrid(name string, net *ResNet, p GridParams) (*ResNetGrid, error) {
	p = p.withDefaults()
	if p.ImageSize < 32 || p.GridSize < 1 {
		return nil, fmt.Errorf("%s: image_size %d (at least 32) or grid_size %d (at least 1) out of range", name, p.ImageSize, p.GridSize)
	}
	pre, err := preprocessFor(p.Resize, p.ImageSize, kernels.PILBilinear)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return &ResNetGrid{name: name, net: net, p: p, pre: pre}, nil
}

// NewResNet152Grid loads resnet152_grid from a torchvision ResNet
// checkpoint (resnet152-394f9c45.pth or any depth: it is inferred).
func NewResNet152Grid(p GridParams, weights string) (*ResNetGrid, error) {
	return loadGrid("resnet152_grid", Torchvision, p, weights)
}

// NewResNetVG loads resnet_vg from the Visual Genome Faster R-CNN
// checkpoint (faster_rcnn_res101_vg.pth): its ResNet-101 trunk only,
// no RPN, no detection head.
func NewResNetVG(p GridParams, weights string) (*ResNetGrid, error) {
	return loadGrid("resnet_vg", CaffeVG, p, weights)
}

func loadGrid(name string, layout Layout, p GridParams, weights string) (*ResNetGrid, error) {
	sd, err := loadWeights(name, weights)
	if err != nil {
		return nil, err
	}
	net, err := LoadResNet(sd, layout)
	if err != nil {
		return nil, fmt.Errorf("%s: %s: %w", name, weights, err)
	}
	return NewResNetGrid(name, net, p)
}

// DemoResNetArch is the small randomly initialised ResNet of demo runs
// (no weight file): bottlenecks, one block per stage, stem width 16,
// 512-d features.
var DemoResNetArch = ResNetArch{Layers: [4]int{1, 1, 1, 1}, Bottleneck: true, Width: 16}

// DemoResNet152Grid is resnet152_grid on the random DemoResNetArch.
func DemoResNet152Grid(p GridParams, seed uint64) (*ResNetGrid, error) {
	return RandomResNetGrid("resnet152_grid", DemoResNetArch, p, seed)
}

// DemoResNetVG is resnet_vg on the random DemoResNetArch (VG layout).
func DemoResNetVG(p GridParams, seed uint64) (*ResNetGrid, error) {
	return RandomResNetGrid("resnet_vg", DemoResNetArch, p, seed)
}

// RandomResNetGrid is name ("resnet152_grid" or "resnet_vg") on a
// randomly initialised ResNet of arch (DemoResNetArch for demos).
func RandomResNetGrid(name string, arch ResNetArch, p GridParams, seed uint64) (*ResNetGrid, error) {
	if name == "resnet_vg" {
		arch.Layout = CaffeVG
	}
	net, err := LoadResNet(RandomResNetStateDict(arch, seed), arch.Layout)
	if err != nil {
		return nil, err
	}
	return NewResNetGrid(name, net, p)
}

func (e *ResNetGrid) Name() string { return e.name }
func (e *ResNetGrid) Dim() int     { return e.net.Arch.OutChannels(4) }

// MaxRegions is the grid's cell count.
func (e *ResNetGrid) MaxRegions() int { return e.p.GridSize * e.p.GridSize }

// Extract implements Extractor: layer4 → adaptive average pool to g×g →
// g² regions with the grid cells as boxes.
func (e *ResNetGrid) Extract(ctx context.Context, images []image.Image) ([]features.Record, error) {
	st, _ := e.states.Get().(*resnetState)
	if st == nil {
		st = &resnetState{}
	}
	defer e.states.Put(st)
	s, g := e.p.ImageSize, e.p.GridSize
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
		fm, sh := e.net.Forward(&st.ws, st.in, Shape{1, 3, s, s}, 0, 4)
		pooled := make([]float32, sh.C*g*g)
		kernels.AdaptiveAvgPool2D(pooled, fm, sh.C, sh.H, sh.W, g, g)
		feats := make([]float32, sh.C*g*g)
		transposeCHW(feats, pooled, sh.C, g*g)
		out[i] = record(f, sh.C, feats, gridBoxes(f, g))
	}
	return out, nil
}
