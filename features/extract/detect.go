package extract

import (
	"context"
	"fmt"
	"image"

	"mmc/features"
	"mmc/ml/checkpoint"
	"mmc/ml/vision/detect"
)

// The detector extractors (ml/vision/detect): Faster R-CNN regions with
// 2048-d features. Each image yields exactly max_regions regions: the
// best detections at or above confidence_threshold, then the next best
// below it, then the whole image; features.Record.Detected is how many
// passed the threshold, Objects the detected class of each region (0 for
// a whole-image fill). Weights as for the vision backbones (Backbone:
// missing_weights: random runs a small random detector of the same
// layout, with one warning).

// Where the detector checkpoints come from, for messages.
const (
	frcnnSource          = "download torchvision's COCO Faster R-CNN ResNet-50-FPN weights (https://download.pytorch.org/models/fasterrcnn_resnet50_fpn_coco-258fb6c6.pth)"
	frcnnResNet152Source = "train or convert a Faster R-CNN with a ResNet-152 FPN trunk in torchvision's fasterrcnn_resnet50_fpn key layout (backbone.body.*, backbone.fpn.*, rpn.*, roi_heads.*; torchvision publishes no such checkpoint)"
	vgSource             = resnetVGSource
)

// DetectorParams select the regions and size the input of a detector
// extractor.
type DetectorParams struct {
	// MaxRegions is the number of regions per image (36).
	MaxRegions int `yaml:"max_regions" json:"max_regions"`
	// ConfidenceThreshold is the detection score a region must reach to
	// count as detected (0.2); fewer are filled (see above).
	ConfidenceThreshold float64 `yaml:"confidence_threshold" json:"confidence_threshold"`
	// MinSize and MaxSize: the image is resized so its short side is
	// MinSize unless its long side would pass MaxSize (800/1333 for the
	// torchvision models, 600/1000 for the Visual Genome model).
	MinSize int `yaml:"min_size" json:"min_size"`
	MaxSize int `yaml:"max_size" json:"max_size"`
}

func (p DetectorParams) selection() (detect.Selection, error) {
	s := detect.Selection{MaxRegions: p.MaxRegions, Threshold: float32(p.ConfidenceThreshold)}
	if s.MaxRegions == 0 {
		s.MaxRegions = 36
	}
	if s.MaxRegions < 1 || p.ConfidenceThreshold < 0 || p.ConfidenceThreshold > 1 {
		return s, fmt.Errorf("max_regions %d (≥ 1) or confidence_threshold %g (0–1) out of range", p.MaxRegions, p.ConfidenceThreshold)
	}
	return s, nil
}

// FPNParams are torchvision's RPN settings at test time.
type FPNParams struct {
	// PreNMSTopN is how many anchors per pyramid level the RPN keeps
	// before NMS (1000), PostNMSTopN how many proposals after it (1000).
	PreNMSTopN  int `yaml:"pre_nms_top_n" json:"pre_nms_top_n"`
	PostNMSTopN int `yaml:"post_nms_top_n" json:"post_nms_top_n"`
}

// FRCNN is "frcnn": torchvision's COCO Faster R-CNN ResNet-50-FPN.
type FRCNN struct {
	Backbone       `yaml:",inline"`
	DetectorParams `yaml:",inline"`
	FPNParams      `yaml:",inline"`
}

// FRCNNResNet152 is "frcnn_resnet152": the same detector on a ResNet-152
// trunk (the depth is read from the checkpoint).
type FRCNNResNet152 struct {
	Backbone       `yaml:",inline"`
	DetectorParams `yaml:",inline"`
	FPNParams      `yaml:",inline"`
}

// VGParams are the Visual Genome detector's RPN and RoI settings.
type VGParams struct {
	// PreNMSTopN, NMSThreshold and PostNMSTopN: the RPN keeps the
	// PreNMSTopN best anchors, NMS at NMSThreshold, the PostNMSTopN first
	// (6000, 0.7, 300).
	PreNMSTopN   int     `yaml:"pre_nms_top_n" json:"pre_nms_top_n"`
	NMSThreshold float64 `yaml:"nms_threshold" json:"nms_threshold"`
	PostNMSTopN  int     `yaml:"post_nms_top_n" json:"post_nms_top_n"`
	// RoISize is the pooled side before layer4 (14); RoIOp "align"
	// (roi_align, aligned=False) or "pool" (roi_pool).
	RoISize int    `yaml:"roi_size" json:"roi_size"`
	RoIOp   string `yaml:"roi_op" json:"roi_op"`
	// ClsProb keeps each region's 1601 class probabilities (MMF
	// detectron.lmdb's cls_prob; 6.4 kB per region). Default false.
	ClsProb bool `yaml:"cls_prob" json:"cls_prob"`
}

// VG is "vg": the Visual Genome Faster R-CNN ResNet-101
// (faster_rcnn_res101_vg.pth), its detected boxes (class-specific
// regression, per-class NMS) with their features re-pooled.
type VG struct {
	Backbone       `yaml:",inline"`
	DetectorParams `yaml:",inline"`
	VGParams       `yaml:",inline"`
}

// VGRPN is "vg_rpn": the same checkpoint's trained RPN proposals as
// regions (bottom-up-attention's choice), scored by their best VG class
// after per-class NMS, with their fc7 features.
type VGRPN struct {
	Backbone       `yaml:",inline"`
	DetectorParams `yaml:",inline"`
	VGParams       `yaml:",inline"`
}

func (FRCNN) Doc() string {
	return "Faster R-CNN ResNet-50-FPN (COCO, torchvision): top regions by confidence, 2048-d C5 RoIAlign features"
}
func (FRCNNResNet152) Doc() string {
	return "Faster R-CNN ResNet-152-FPN (torchvision layout): top regions by confidence, 2048-d C5 RoIAlign features"
}
func (VG) Doc() string {
	return "Visual Genome Faster R-CNN ResNet-101: detected boxes (1600 classes), 2048-d res5 features"
}
func (VGRPN) Doc() string {
	return "Visual Genome Faster R-CNN ResNet-101 RPN proposals scored by VG class after NMS, 2048-d res5 features"
}

func (p FRCNN) BackboneID() string          { return p.backbone() }
func (p FRCNNResNet152) BackboneID() string { return p.backbone() }
func (p VG) BackboneID() string             { return p.backbone() }
func (p VGRPN) BackboneID() string          { return p.backbone() }

func (p FRCNN) New(string) (Extractor, error) {
	return newFPN("frcnn", frcnnSource, p.Backbone, p.DetectorParams, p.FPNParams)
}

func (p FRCNNResNet152) New(string) (Extractor, error) {
	return newFPN("frcnn_resnet152", frcnnResNet152Source, p.Backbone, p.DetectorParams, p.FPNParams)
}

func (p VG) New(string) (Extractor, error) {
	return newC4("vg", p.Backbone, p.DetectorParams, p.VGParams, detect.C4Detections)
}

func (p VGRPN) New(string) (Extractor, error) {
	return newC4("vg_rpn", p.Backbone, p.DetectorParams, p.VGParams, detect.C4Proposals)
}

func newFPN(name, source string, b Backbone, p DetectorParams, f FPNParams) (Extractor, error) {
	sel, err := p.selection()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	cfg := detect.DefaultFPNConfig()
	if p.MinSize > 0 {
		cfg.MinSize = p.MinSize
	}
	if p.MaxSize > 0 {
		cfg.MaxSize = p.MaxSize
	}
	if f.PreNMSTopN > 0 {
		cfg.PreNMSTopN = f.PreNMSTopN
	}
	if f.PostNMSTopN > 0 {
		cfg.PostNMSTopN = f.PostNMSTopN
	}
	if cfg.MinSize < 32 || cfg.MaxSize < cfg.MinSize {
		return nil, fmt.Errorf("%s: min_size %d (≥ 32) and max_size %d (≥ min_size) out of range", name, cfg.MinSize, cfg.MaxSize)
	}
	ok, err := b.present(name, source)
	if err != nil {
		return nil, err
	}
	var sd checkpoint.StateDict
	if ok {
		if sd, err = detect.LoadStateDict(name, b.Weights); err != nil {
			return nil, err
		}
	} else {
		warnRandom(name, b.Weights, source)
		sd = detect.RandomFPNStateDict(detect.DemoFPNArch, b.seed())
	}
	m, err := detect.LoadFasterRCNNFPN(sd, cfg)
	if err != nil {
		return nil, fmt.Errorf("%s: %s: %w", name, b.Weights, err)
	}
	var ws detect.FPNWorkspace
	return &detectorExtractor{name: name, sel: sel, run: func(img image.Image) (*detect.Regions, error) {
		return m.Extract(&ws, img, sel)
	}}, nil
}

func newC4(name string, b Backbone, p DetectorParams, v VGParams, mode detect.C4Mode) (Extractor, error) {
	sel, err := p.selection()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	cfg := detect.DefaultC4Config()
	if p.MinSize > 0 {
		cfg.Short = p.MinSize
	}
	if p.MaxSize > 0 {
		cfg.MaxSize = p.MaxSize
	}
	if v.PreNMSTopN > 0 {
		cfg.PreNMSTopN = v.PreNMSTopN
	}
	if v.PostNMSTopN > 0 {
		cfg.PostNMSTopN = v.PostNMSTopN
	}
	if v.NMSThreshold > 0 {
		cfg.RPNNMSThresh = float32(v.NMSThreshold)
	}
	if v.RoISize > 0 {
		cfg.RoISize = v.RoISize
	}
	if v.RoIOp != "" {
		cfg.RoIOp = v.RoIOp
	}
	sel.ClsProb = v.ClsProb
	ok, err := b.present(name, vgSource)
	if err != nil {
		return nil, err
	}
	var sd checkpoint.StateDict
	if ok {
		if sd, err = detect.LoadStateDict(name, b.Weights); err != nil {
			return nil, err
		}
	} else {
		warnRandom(name, b.Weights, vgSource)
		sd = detect.RandomC4StateDict(detect.DemoC4Arch, b.seed())
	}
	m, err := detect.LoadFasterRCNNC4(sd, cfg)
	if err != nil {
		return nil, fmt.Errorf("%s: %s: %w", name, b.Weights, err)
	}
	var ws detect.C4Workspace
	return &detectorExtractor{name: name, sel: sel, run: func(img image.Image) (*detect.Regions, error) {
		return m.Extract(&ws, img, mode, sel)
	}}, nil
}

// detectorExtractor runs a detector image by image (each image is large
// enough work for every BLAS thread) with one reused workspace.
type detectorExtractor struct {
	name string
	sel  detect.Selection
	run  func(image.Image) (*detect.Regions, error)
}

func (e *detectorExtractor) MaxRegions() int { return e.sel.MaxRegions }

func (e *detectorExtractor) Extract(ctx context.Context, batch []Image) ([]*features.Record, error) {
	out := make([]*features.Record, len(batch))
	for i, img := range batch {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		r, err := e.run(img.Pixels)
		if err != nil {
			return nil, fmt.Errorf("%s: image %s (%s): %w", e.name, img.ID, img.Path, err)
		}
		objs := make([]int64, len(r.Labels))
		for j, l := range r.Labels {
			objs[j] = int64(l)
		}
		out[i] = &features.Record{ID: img.ID, Dim: r.Dim, NumBoxes: len(r.Boxes) / 4, Features: r.Features,
			Boxes: r.Boxes, ImageW: r.ImageW, ImageH: r.ImageH, Objects: objs, ClsProb: r.ClsProb, Detected: r.Detected}
	}
	return out, nil
}
