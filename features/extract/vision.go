package extract

import (
	"context"
	"errors"
	"fmt"
	"image"
	"os"

	"mmc/features"
	"mmc/ml/vision"
	"mmc/progress"
)

// The vision extractors (ml/vision backbones) read the user's real
// checkpoint from Weights. What a missing file means is MissingWeights:
// "error" (fail before any work, naming the file and where it comes
// from) or "random" (a small randomly initialised backbone of the same
// family, with one warning: demo runs on a fresh machine). The store
// records which backbone made it (the backbone key of its provenance),
// so features of the random backbone are never taken for real ones.
const (
	MissingWeightsError  = "error"
	MissingWeightsRandom = "random"
)

// Backbone is the weight-file part of a vision extractor's parameters.
type Backbone struct {
	// Weights is the PyTorch checkpoint the backbone loads.
	Weights string `yaml:"weights" json:"weights"`
	// MissingWeights is "error" (default) or "random" (see above).
	MissingWeights string `yaml:"missing_weights" json:"-"`
	// DemoSeed seeds the random backbone (0 means 1).
	DemoSeed uint64 `yaml:"demo_seed" json:"demo_seed,omitempty"`
}

// present reports whether the weight file exists; a missing one is an
// error unless MissingWeights is random. source says where it comes from.
func (b Backbone) present(name, source string) (bool, error) {
	if b.Weights == "" && b.MissingWeights != MissingWeightsRandom {
		return false, fmt.Errorf("%s: no weights file given (extract_features.%s.weights; %s)", name, name, source)
	}
	if b.Weights != "" {
		_, err := os.Stat(b.Weights)
		if err == nil {
			return true, nil
		}
		if !errors.Is(err, os.ErrNotExist) {
			return false, fmt.Errorf("%s: weights %s: %w", name, b.Weights, err)
		}
	}
	switch b.MissingWeights {
	case MissingWeightsRandom:
		return false, nil
	case "", MissingWeightsError:
		return false, fmt.Errorf("%s: weights %s not found: %s; place it there (or set extract_features.%s.missing_weights: random for a randomly initialised demo backbone)", name, b.Weights, source, name)
	}
	return false, fmt.Errorf("%s: missing_weights %q: want %s or %s", name, b.MissingWeights, MissingWeightsError, MissingWeightsRandom)
}

func (b Backbone) seed() uint64 {
	if b.DemoSeed == 0 {
		return 1
	}
	return b.DemoSeed
}

// backbone describes the backbone a store's features come from, for its
// provenance: the checkpoint with its size, or the random demo one.
func (b Backbone) backbone() string {
	if st, err := os.Stat(b.Weights); err == nil {
		return fmt.Sprintf("checkpoint %s (%d bytes)", b.Weights, st.Size())
	}
	return fmt.Sprintf("random demo backbone (seed %d)", b.seed())
}

// warnRandom is the one warning of a run on the random backbone.
func warnRandom(name, weights, source string) {
	progress.Logf("warning: %s: weights %s not found, using a small RANDOMLY INITIALISED backbone: its features carry no meaning (demo only). For real features %s and place it at %s.", name, weights, source, weights)
}

// Where the checkpoints come from, for messages.
const (
	resnet152Source = "download torchvision's ResNet-152 ImageNet weights (https://download.pytorch.org/models/resnet152-394f9c45.pth)"
	resnetVGSource  = "download the Visual Genome Faster R-CNN ResNet-101 checkpoint faster_rcnn_res101_vg.pth of the bottom-up-attention PyTorch ports"
	dinov2Source    = "download DINOv2's ViT-L/14 weights (https://dl.fbaipublicfiles.com/dinov2/dinov2_vitl14/dinov2_vitl14_pretrain.pth)"
)

// ResNet152Grid is "resnet152_grid": ResNet-152 layer4 average-pooled
// to a grid (224², 6×6 = 36 regions × 2048).
type ResNet152Grid struct {
	Backbone          `yaml:",inline"`
	vision.GridParams `yaml:",inline"`
}

// ResNetVG is "resnet_vg": the same grid on the Visual Genome Faster
// R-CNN's ResNet-101 trunk (no RPN, no detection head).
type ResNetVG struct {
	Backbone          `yaml:",inline"`
	vision.GridParams `yaml:",inline"`
}

// ResNet152RoI is "resnet152_roi": 36 fixed multi-scale boxes
// RoI-pooled on ResNet-152's layer3 and run through layer4 (600²).
type ResNet152RoI struct {
	Backbone         `yaml:",inline"`
	vision.RoIParams `yaml:",inline"`
}

// DINOv2 is "dinov2": DINOv2 patch tokens resampled (or selected by
// [CLS] attention) to regions.
type DINOv2 struct {
	Backbone            `yaml:",inline"`
	vision.DINOv2Params `yaml:",inline"`
}

// DINOv2Multilayer is "dinov2_multilayer": several DINOv2 blocks fused.
type DINOv2Multilayer struct {
	Backbone            `yaml:",inline"`
	vision.DINOv2Params `yaml:",inline"`
}

func (ResNet152Grid) Doc() string {
	return "ResNet-152 grid: layer4 average-pooled to grid_size² regions × 2048 (torchvision checkpoint)"
}
func (ResNetVG) Doc() string {
	return "Visual Genome ResNet-101 grid: the VG Faster R-CNN trunk's layer4 pooled to a grid, no detection"
}
func (ResNet152RoI) Doc() string {
	return "ResNet-152 RoI: 36 fixed multi-scale boxes RoI-pooled on layer3, layer4 head, mean-pooled × 2048"
}
func (DINOv2) Doc() string {
	return "DINOv2 ViT: patch tokens interpolated to a grid or chosen by [CLS] attention (1024-d for ViT-L/14)"
}
func (DINOv2Multilayer) Doc() string {
	return "DINOv2 ViT, several blocks' tokens interpolated to a grid and concatenated or averaged"
}

// Backbone implementations: the provenance key the stores record.
func (p ResNet152Grid) BackboneID() string    { return p.backbone() }
func (p ResNetVG) BackboneID() string         { return p.backbone() }
func (p ResNet152RoI) BackboneID() string     { return p.backbone() }
func (p DINOv2) BackboneID() string           { return p.backbone() }
func (p DINOv2Multilayer) BackboneID() string { return p.backbone() }

// Check fails, before any work, when the weight file is missing and
// missing_weights is not random.
func (p ResNet152Grid) Check() error {
	_, err := p.present("resnet152_grid", resnet152Source)
	return err
}
func (p ResNetVG) Check() error { _, err := p.present("resnet_vg", resnetVGSource); return err }
func (p ResNet152RoI) Check() error {
	_, err := p.present("resnet152_roi", resnet152Source)
	return err
}
func (p DINOv2) Check() error { _, err := p.present("dinov2", dinov2Source); return err }
func (p DINOv2Multilayer) Check() error {
	_, err := p.present("dinov2_multilayer", dinov2Source)
	return err
}

// New loads the checkpoint, or builds the random demo backbone.
func (p ResNet152Grid) New(string) (Extractor, error) {
	const name = "resnet152_grid"
	return build(p.Backbone, name, resnet152Source,
		func() (vision.Extractor, error) { return vision.NewResNet152Grid(p.GridParams, p.Weights) },
		func() (vision.Extractor, error) { return vision.DemoResNet152Grid(p.GridParams, p.seed()) })
}

func (p ResNetVG) New(string) (Extractor, error) {
	const name = "resnet_vg"
	return build(p.Backbone, name, resnetVGSource,
		func() (vision.Extractor, error) { return vision.NewResNetVG(p.GridParams, p.Weights) },
		func() (vision.Extractor, error) { return vision.DemoResNetVG(p.GridParams, p.seed()) })
}

func (p ResNet152RoI) New(string) (Extractor, error) {
	const name = "resnet152_roi"
	return build(p.Backbone, name, resnet152Source,
		func() (vision.Extractor, error) { return vision.NewResNet152RoI(p.RoIParams, p.Weights) },
		func() (vision.Extractor, error) { return vision.DemoResNet152RoI(p.RoIParams, p.seed()) })
}

func (p DINOv2) New(string) (Extractor, error) {
	const name = "dinov2"
	return build(p.Backbone, name, dinov2Source,
		func() (vision.Extractor, error) { return vision.NewDINOv2(p.DINOv2Params, p.Weights) },
		func() (vision.Extractor, error) { return vision.DemoDINOv2(p.DINOv2Params, p.seed()) })
}

func (p DINOv2Multilayer) New(string) (Extractor, error) {
	const name = "dinov2_multilayer"
	return build(p.Backbone, name, dinov2Source,
		func() (vision.Extractor, error) { return vision.NewDINOv2Multilayer(p.DINOv2Params, p.Weights) },
		func() (vision.Extractor, error) { return vision.DemoDINOv2Multilayer(p.DINOv2Params, p.seed()) })
}

// build loads the real backbone when its file is present, else the demo
// one (with the warning) or the error MissingWeights asks for.
func build(b Backbone, name, source string, real, demo func() (vision.Extractor, error)) (Extractor, error) {
	ok, err := b.present(name, source)
	if err != nil {
		return nil, err
	}
	var e vision.Extractor
	if ok {
		e, err = real()
	} else {
		warnRandom(name, b.Weights, source)
		e, err = demo()
	}
	if err != nil {
		return nil, err
	}
	return visionExtractor{e}, nil
}

// visionExtractor adapts an ml/vision extractor: it names the records.
type visionExtractor struct{ e vision.Extractor }

func (v visionExtractor) MaxRegions() int { return v.e.MaxRegions() }

func (v visionExtractor) Extract(ctx context.Context, batch []Image) ([]*features.Record, error) {
	imgs := make([]image.Image, len(batch))
	for i, b := range batch {
		imgs[i] = b.Pixels
	}
	recs, err := v.e.Extract(ctx, imgs)
	if err != nil {
		return nil, err
	}
	if len(recs) != len(batch) {
		return nil, fmt.Errorf("%s: %d records for %d images", v.e.Name(), len(recs), len(batch))
	}
	out := make([]*features.Record, len(recs))
	for i := range recs {
		recs[i].ID = batch[i].ID
		out[i] = &recs[i]
	}
	return out, nil
}

// WithMissingWeights returns p with every vision extractor's
// missing_weights set to mode (inference rebuilding a demo checkpoint's
// random backbone sets random).
func (p Params) WithMissingWeights(mode string) Params {
	p.ResNet152Grid.MissingWeights = mode
	p.ResNet152RoI.MissingWeights = mode
	p.ResNetVG.MissingWeights = mode
	p.DINOv2.MissingWeights = mode
	p.DINOv2Multilayer.MissingWeights = mode
	return p
}
