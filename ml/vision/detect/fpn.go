package detect

import (
	"fmt"
	"image"
	"math"
	"strconv"

	"mmc/ml/checkpoint"
	"mmc/ml/kernels"
	"mmc/ml/vision"
)

// FPNConfig are torchvision FasterRCNN's inference settings (its
// constructor's defaults; the COCO model uses all of them).
type FPNConfig struct {
	MinSize, MaxSize int     // GeneralizedRCNNTransform: 800, 1333
	PreNMSTopN       int     // RPN candidates per level before NMS: 1000
	PostNMSTopN      int     // proposals after NMS: 1000
	RPNNMSThresh     float32 // 0.7
	BoxScoreThresh   float32 // detections scoring at most this are dropped: 0.05
	BoxNMSThresh     float32 // per-class NMS of detections: 0.5
	DetectionsPerImg int     // 100
}

// DefaultFPNConfig is torchvision's fasterrcnn_resnet50_fpn at inference.
func DefaultFPNConfig() FPNConfig {
	return FPNConfig{MinSize: 800, MaxSize: 1333, PreNMSTopN: 1000, PostNMSTopN: 1000,
		RPNNMSThresh: 0.7, BoxScoreThresh: 0.05, BoxNMSThresh: 0.5, DetectionsPerImg: 100}
}

// FasterRCNNFPN is torchvision's fasterrcnn_resnet50_fpn (v1) at
// inference, loaded from its state dict layout: backbone.body (a ResNet of
// any depth: ResNet-50 for the COCO model, ResNet-152 for the deeper
// variant), backbone.fpn (inner_blocks / layer_blocks, both the current
// ".i.0." and the older ".i." key forms), rpn.head (conv, cls_logits,
// bbox_pred), roi_heads.box_head (fc6, fc7) and roi_heads.box_predictor
// (cls_score, bbox_pred).
type FasterRCNNFPN struct {
	Cfg        FPNConfig
	Body       *vision.ResNet
	NumClasses int // including background (91 for COCO)

	inner, layer [4]*kernels.Conv2D
	rpnConv      *kernels.Conv2D // 3×3 + ReLU
	rpnOut       *kernels.Conv2D // 1×1: A objectness then 4A deltas
	cell         [5][]float32    // cell anchors of P2…P6
	numAnchors   int
	fc6, fc7     Linear
	pred         Linear // cls_score then bbox_pred
	fpnC, roiOut int
}

// LoadFasterRCNNFPN builds the model from a torchvision state dict,
// inferring the trunk depth, FPN width, box-head width and class count
// from the shapes. The model takes over sd's tensors (BatchNorms are
// folded in place).
func LoadFasterRCNNFPN(sd checkpoint.StateDict, cfg FPNConfig) (*FasterRCNNFPN, error) {
	body, err := vision.LoadResNet(subDict(sd, "backbone.body."), vision.Torchvision)
	if err != nil {
		return nil, fmt.Errorf("faster r-cnn fpn: backbone.body: %w", err)
	}
	// F(2×2, 3×3) whatever the default: the proposals (top-k and NMS over
	// the RPN's scores) follow torchvision's on the fixture with it, while
	// F(4×4)'s few-ulp larger rounding reorders near-tied scores
	body.SetWinograd(2)
	m := &FasterRCNNFPN{Cfg: cfg, Body: body, roiOut: 7}
	for i := 0; i < 4; i++ {
		is := strconv.Itoa(i)
		if m.inner[i], err = conv(sd, body.Arch.OutChannels(i+1), 1,
			"backbone.fpn.inner_blocks."+is+".0", "backbone.fpn.inner_blocks."+is); err != nil {
			return nil, err
		}
		m.fpnC = m.inner[i].OutC
		if m.layer[i], err = conv(sd, m.fpnC, 1,
			"backbone.fpn.layer_blocks."+is+".0", "backbone.fpn.layer_blocks."+is); err != nil {
			return nil, err
		}
	}
	for i := 0; i < 3; i++ {
		m.inner[i].Accumulate = true // lateral + top-down in one pass
	}
	if m.rpnConv, err = conv(sd, m.fpnC, 1, "rpn.head.conv.0.0", "rpn.head.conv"); err != nil {
		return nil, err
	}
	m.rpnConv.ReLU = true
	cls, err := conv(sd, m.fpnC, 1, "rpn.head.cls_logits")
	if err != nil {
		return nil, err
	}
	box, err := conv(sd, m.fpnC, 1, "rpn.head.bbox_pred")
	if err != nil {
		return nil, err
	}
	ratios := []float32{0.5, 1, 2}
	m.numAnchors = cls.OutC
	if cls.OutC != len(ratios) || box.OutC != 4*cls.OutC {
		return nil, fmt.Errorf("faster r-cnn fpn: rpn.head predicts %d objectness and %d deltas per location, want 3 and 12 (3 aspect ratios × 1 size per level)", cls.OutC, box.OutC)
	}
	m.rpnOut = concatConvs(cls, box)
	for l := 0; l < 5; l++ {
		m.cell[l] = CellAnchors([]float32{float32(int(32) << l)}, ratios)
	}
	if m.fc6, err = linear(sd, m.fpnC*m.roiOut*m.roiOut, "roi_heads.box_head.fc6"); err != nil {
		return nil, err
	}
	if m.fc7, err = linear(sd, m.fc6.Out, "roi_heads.box_head.fc7"); err != nil {
		return nil, err
	}
	clsScore, err := linear(sd, m.fc7.Out, "roi_heads.box_predictor.cls_score")
	if err != nil {
		return nil, err
	}
	bbox, err := linear(sd, m.fc7.Out, "roi_heads.box_predictor.bbox_pred")
	if err != nil {
		return nil, err
	}
	if bbox.Out != 4*clsScore.Out {
		return nil, fmt.Errorf("faster r-cnn fpn: roi_heads.box_predictor.bbox_pred has %d outputs, want 4 × %d classes", bbox.Out, clsScore.Out)
	}
	m.NumClasses = clsScore.Out
	m.pred = concatLinear(clsScore, bbox)
	return m, nil
}

// FeatureDim is the width of the region features (C5 channels: 2048 for
// ResNet-50 and ResNet-152).
func (m *FasterRCNNFPN) FeatureDim() int { return m.Body.Arch.OutChannels(4) }

// FPNWorkspace holds one image's activations, reused from call to call;
// give each goroutine its own.
type FPNWorkspace struct {
	trunk               vision.Workspace
	input, col          []float32
	c                   [4][]float32
	cs                  [4]vision.Shape
	p                   [5][]float32
	inner               [4][]float32
	ph, pw              [5]int
	hidden, head        []float32
	rois, fc6, fc7, out []float32
	regions, hwc        []float32
	norm, resized       []float32
}

// Detections are one image's detector outputs. Boxes are in the pixels
// of the resized model input (InputW × InputH, before padding); Frame
// maps them to the original image.
type Detections struct {
	Frame     Frame
	Proposals []float32 // RPN proposals, by descending objectness
	Boxes     []float32 // final detections by descending score
	Scores    []float32
	Labels    []int
}

// Frame is where the model input came from: the original image was
// ImageW × ImageH, resized to InputW × InputH.
type Frame struct {
	ImageW, ImageH int
	InputW, InputH int
	// legacy maps with one scale factor (boxes / im_scale, the Caffe
	// ports); otherwise with ImageW/InputW and ImageH/InputH in float32,
	// as torchvision's transform.postprocess.
	legacy bool
	scale  float64
}

// ToImage maps boxes in model-input pixels to the original image.
func (f Frame) ToImage(boxes []float32) []float32 {
	out := make([]float32, len(boxes))
	if f.legacy {
		s := float32(f.scale)
		for i, v := range boxes {
			out[i] = v / s
		}
		return out
	}
	rw := float32(f.ImageW) / float32(f.InputW)
	rh := float32(f.ImageH) / float32(f.InputH)
	for i := 0; i+3 < len(boxes); i += 4 {
		out[i], out[i+1], out[i+2], out[i+3] = boxes[i]*rw, boxes[i+1]*rh, boxes[i+2]*rw, boxes[i+3]*rh
	}
	return out
}

// Preprocess is GeneralizedRCNNTransform for one image: ToTensor,
// ImageNet Normalize, bilinear resize (F.interpolate, align_corners
// False) by min(MinSize/short, MaxSize/long), zero padding to multiples
// of 32. It returns the padded input [3, ph, pw] (in ws) and the frame.
func (m *FasterRCNNFPN) Preprocess(ws *FPNWorkspace, img image.Image) ([]float32, int, int, Frame, error) {
	pix, w, h := rgbaPixels(img)
	if w <= 0 || h <= 0 {
		return nil, 0, 0, Frame{}, fmt.Errorf("faster r-cnn: empty image %d×%d", w, h)
	}
	norm := grow(&ws.norm, 3*w*h)
	kernels.NormalizeRGB8(norm, pix, 4, w, h, vision.ImageNetMean, vision.ImageNetStd)
	scale := min(float64(m.Cfg.MinSize)/float64(min(w, h)), float64(m.Cfg.MaxSize)/float64(max(w, h)))
	oh := int(math.Floor(float64(h) * scale))
	ow := int(math.Floor(float64(w) * scale))
	if oh < 1 || ow < 1 {
		return nil, 0, 0, Frame{}, fmt.Errorf("faster r-cnn: %d×%d image resizes to %d×%d", w, h, ow, oh)
	}
	resized := norm
	if oh != h || ow != w {
		resized = grow(&ws.resized, 3*oh*ow)
		kernels.Interpolate(resized, norm, 3, h, w, oh, ow, kernels.Interp{Mode: kernels.Bilinear})
	}
	ph, pw := (oh+31)/32*32, (ow+31)/32*32
	in := grow(&ws.input, 3*ph*pw)
	clear(in)
	for c := 0; c < 3; c++ {
		for y := 0; y < oh; y++ {
			copy(in[(c*ph+y)*pw:(c*ph+y)*pw+ow], resized[(c*oh+y)*ow:(c*oh+y+1)*ow])
		}
	}
	return in, ph, pw, Frame{ImageW: w, ImageH: h, InputW: ow, InputH: oh}, nil
}

// Detect runs the whole detector on one image. The backbone's C5 map
// stays in ws for RegionFeatures until the next call.
func (m *FasterRCNNFPN) Detect(ws *FPNWorkspace, img image.Image) (*Detections, error) {
	in, ph, pw, f, err := m.Preprocess(ws, img)
	if err != nil {
		return nil, err
	}
	m.backbone(ws, in, ph, pw)
	props := m.proposals(ws, ph, pw, f)
	boxes, scores, labels := m.roiHeads(ws, props, f)
	return &Detections{Frame: f, Proposals: props, Boxes: boxes, Scores: scores, Labels: labels}, nil
}

// backbone runs the trunk (C2…C5 kept) and the FPN (P2…P5, P6 = pool).
func (m *FasterRCNNFPN) backbone(ws *FPNWorkspace, in []float32, h, w int) {
	x, sh := in, vision.Shape{N: 1, C: 3, H: h, W: w}
	for s := 1; s <= 4; s++ {
		first := s
		if s == 1 {
			first = 0
		}
		out, osh := m.Body.Forward(&ws.trunk, x, sh, first, s)
		c := grow(&ws.c[s-1], osh.Len())
		copy(c, out)
		ws.cs[s-1] = osh
		x, sh = c, osh
	}
	// top-down: P5 from C5, then each level's lateral 1×1 accumulated onto
	// the nearest-upsampled inner map of the level above
	for l := 3; l >= 0; l-- {
		cs := ws.cs[l]
		buf := grow(&ws.inner[l], m.fpnC*cs.H*cs.W)
		if l < 3 {
			up := ws.cs[l+1]
			nearest(buf, ws.inner[l+1], m.fpnC, up.H, up.W, cs.H, cs.W)
		}
		m.inner[l].Forward(buf, ws.c[l], 1, cs.H, cs.W, grow(&ws.col, m.inner[l].ColSize(cs.H, cs.W)))
		p := grow(&ws.p[l], m.fpnC*cs.H*cs.W)
		m.layer[l].Forward(p, buf, 1, cs.H, cs.W, grow(&ws.col, m.layer[l].ColSize(cs.H, cs.W)))
		ws.ph[l], ws.pw[l] = cs.H, cs.W
	}
	// P6: max_pool2d(P5, kernel 1, stride 2)
	h5, w5 := ws.ph[3], ws.pw[3]
	h6, w6 := (h5-1)/2+1, (w5-1)/2+1
	p6 := grow(&ws.p[4], m.fpnC*h6*w6)
	for c := 0; c < m.fpnC; c++ {
		for y := 0; y < h6; y++ {
			for x := 0; x < w6; x++ {
				p6[(c*h6+y)*w6+x] = ws.p[3][(c*h5+2*y)*w5+2*x]
			}
		}
	}
	ws.ph[4], ws.pw[4] = h6, w6
}

// nearest is F.interpolate(mode="nearest") of [c, ih, iw] to [c, oh, ow]:
// source index floor(dst · in/out) in float32.
func nearest(dst, src []float32, c, ih, iw, oh, ow int) {
	sy, sx := float32(ih)/float32(oh), float32(iw)/float32(ow)
	xs := make([]int, ow)
	for x := range xs {
		xs[x] = min(int(float32(x)*sx), iw-1)
	}
	for ch := 0; ch < c; ch++ {
		for y := 0; y < oh; y++ {
			iy := min(int(float32(y)*sy), ih-1)
			srow := src[(ch*ih+iy)*iw : (ch*ih+iy+1)*iw]
			drow := dst[(ch*oh+y)*ow : (ch*oh+y+1)*ow]
			for x, ix := range xs {
				drow[x] = srow[ix]
			}
		}
	}
}

// proposals is torchvision's RegionProposalNetwork at inference on the
// padded ph×pw input of an image resized to f.InputW × f.InputH.
func (m *FasterRCNNFPN) proposals(ws *FPNWorkspace, ph, pw int, f Frame) []float32 {
	a := m.numAnchors
	var boxes, scores []float32
	var levels []int
	delta := make([]float32, 4)
	for l := 0; l < 5; l++ {
		h, w := ws.ph[l], ws.pw[l]
		hw := h * w
		hid := grow(&ws.hidden, m.fpnC*hw)
		m.rpnConv.Forward(hid, ws.p[l], 1, h, w, grow(&ws.col, m.rpnConv.ColSize(h, w)))
		out := grow(&ws.head, 5*a*hw)
		m.rpnOut.Forward(out, hid, 1, h, w, nil)
		// objectness in torchvision's (y, x, anchor) order
		obj := make([]float32, hw*a)
		for k := 0; k < a; k++ {
			for loc := 0; loc < hw; loc++ {
				obj[loc*a+k] = out[k*hw+loc]
			}
		}
		anchors := GridAnchors(m.cell[l], h, w, ph/h, pw/w)
		for _, i := range topK(obj, m.Cfg.PreNMSTopN) {
			loc, k := i/a, i%a
			for j := 0; j < 4; j++ {
				delta[j] = out[(a+4*k+j)*hw+loc]
			}
			var b [4]float32
			RPNCoder.Decode(b[:], delta, anchors[4*i:4*i+4])
			boxes = append(boxes, b[:]...)
			scores = append(scores, sigmoid(obj[i]))
			levels = append(levels, l)
		}
	}
	ClipBoxes(boxes, f.InputW, f.InputH, false)
	idx := make([]int, len(scores))
	for i := range idx {
		idx[i] = i
	}
	idx = removeSmall(boxes, idx, 1e-3)
	keepBoxes, keepScores, keepLevels := gather(boxes, scores, levels, idx)
	keep := BatchedNMS(keepBoxes, keepScores, keepLevels, m.Cfg.RPNNMSThresh)
	keep = keep[:min(len(keep), m.Cfg.PostNMSTopN)]
	props := make([]float32, 0, 4*len(keep))
	for _, i := range keep {
		props = append(props, keepBoxes[4*i:4*i+4]...)
	}
	return props
}

func sigmoid(x float32) float32 { return 1 / (1 + kernels.Expf(-x)) }

func gather(boxes, scores []float32, groups []int, idx []int) ([]float32, []float32, []int) {
	b := make([]float32, 0, 4*len(idx))
	s := make([]float32, 0, len(idx))
	g := make([]int, 0, len(idx))
	for _, i := range idx {
		b = append(b, boxes[4*i:4*i+4]...)
		s = append(s, scores[i])
		g = append(g, groups[i])
	}
	return b, s, g
}

// multiScaleRoIAlign is torchvision's MultiScaleRoIAlign over P2…P5 (7×7,
// sampling ratio 2, aligned=False): each box goes to level
// floor(4 + log2(√area / 224) + 1e-6) clamped to 2…5. dst [n, C, 7, 7].
func (m *FasterRCNNFPN) multiScaleRoIAlign(ws *FPNWorkspace, dst, boxes []float32, f Frame) {
	n := len(boxes) / 4
	r := m.roiOut
	// level scales: 2^round(log2(feature height / input height))
	var scales [4]float32
	for l := 0; l < 4; l++ {
		scales[l] = float32(math.Exp2(math.Round(math.Log2(float64(ws.ph[l]) / float64(f.InputH)))))
	}
	kmin := int(-math.Round(math.Log2(float64(scales[0]))))
	kmax := int(-math.Round(math.Log2(float64(scales[3]))))
	byLevel := make([][]int, 4)
	for i := 0; i < n; i++ {
		b := boxes[4*i : 4*i+4]
		s := float32(math.Sqrt(float64((b[2] - b[0]) * (b[3] - b[1]))))
		lv := float32(4) + float32(math.Log2(float64(s/224))) + float32(1e-6)
		k := int(math.Floor(float64(lv)))
		k = min(max(k, kmin), kmax) - kmin
		byLevel[k] = append(byLevel[k], i)
	}
	var lb []float32
	for l, idx := range byLevel {
		if len(idx) == 0 {
			continue
		}
		lb = lb[:0]
		for _, i := range idx {
			lb = append(lb, boxes[4*i:4*i+4]...)
		}
		hw := ws.ph[l] * ws.pw[l]
		hwc := grow(&ws.hwc, m.fpnC*hw)
		kernels.ToHWC(hwc, ws.p[l], m.fpnC, hw)
		kernels.RoIAlignHWC(dst, hwc, m.fpnC, ws.ph[l], ws.pw[l], lb, idx, r, r, scales[l], 2, 0)
	}
}

// roiHeads is torchvision's RoIHeads at inference: MultiScaleRoIAlign,
// TwoMLPHead, FastRCNNPredictor, then postprocess_detections.
func (m *FasterRCNNFPN) roiHeads(ws *FPNWorkspace, props []float32, f Frame) ([]float32, []float32, []int) {
	n := len(props) / 4
	if n == 0 {
		return nil, nil, nil
	}
	pooled := grow(&ws.rois, n*m.fc6.In)
	m.multiScaleRoIAlign(ws, pooled, props, f)
	h6 := grow(&ws.fc6, n*m.fc6.Out)
	m.fc6.Forward(h6, pooled, n, true)
	h7 := grow(&ws.fc7, n*m.fc7.Out)
	m.fc7.Forward(h7, h6, n, true)
	out := grow(&ws.out, n*m.pred.Out)
	m.pred.Forward(out, h7, n, false)
	nc := m.NumClasses
	var boxes, scores []float32
	var labels []int
	prob := make([]float32, nc)
	for i := 0; i < n; i++ {
		row := out[i*m.pred.Out : (i+1)*m.pred.Out]
		kernels.SoftmaxSerial(prob, row[:nc], nil, 1, nc)
		for c := 1; c < nc; c++ {
			if prob[c] <= m.Cfg.BoxScoreThresh {
				continue
			}
			var b [4]float32
			RoICoder.Decode(b[:], row[nc+4*c:nc+4*c+4], props[4*i:4*i+4])
			ClipBoxes(b[:], f.InputW, f.InputH, false)
			if b[2]-b[0] < 1e-2 || b[3]-b[1] < 1e-2 {
				continue
			}
			boxes = append(boxes, b[:]...)
			scores = append(scores, prob[c])
			labels = append(labels, c)
		}
	}
	keep := BatchedNMS(boxes, scores, labels, m.Cfg.BoxNMSThresh)
	keep = keep[:min(len(keep), m.Cfg.DetectionsPerImg)]
	kb, ks, kl := gather(boxes, scores, labels, keep)
	return kb, ks, kl
}

// RegionFeatures returns the 2048-d feature of each box (model-input
// pixels) of the image Detect last ran on: RoIAlign 7×7 of the
// backbone's C5 map (stride 32, sampling ratio 2, aligned=False) averaged
// over the bins. The FPN box head's own features are 1024-d (fc7) and
// mix pyramid levels; C5 pooled this way is what a ResNet C4-style
// detector's region feature is (mean of res5 over the RoI), at the C5
// width ViLBERT's 2048-d visual input expects.
func (m *FasterRCNNFPN) RegionFeatures(ws *FPNWorkspace, boxes []float32) []float32 {
	n := len(boxes) / 4
	c5 := ws.cs[3]
	pooled := grow(&ws.regions, n*c5.C*49)
	kernels.RoIAlign(pooled, ws.c[3], c5.C, c5.H, c5.W, boxes, 7, 7, 1.0/32, 2, false)
	out := make([]float32, n*c5.C)
	kernels.AdaptiveAvgPool2D(out, pooled, n*c5.C, 7, 7, 1, 1)
	return out
}
