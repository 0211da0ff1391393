package detect

import (
	"fmt"
	"image"
	"math"

	"mmc/ml/checkpoint"
	"mmc/ml/kernels"
	"mmc/ml/vision"
)

// C4Config are the inference settings of the caffe-style Faster R-CNN
// (py-faster-rcnn's TEST config as the Visual Genome model uses it).
type C4Config struct {
	// Short is the target short side and MaxSize the cap on the long
	// side: 600 and 1000.
	Short, MaxSize int
	// Anchor layout: Scales × Ratios of a Base-pixel box (4, 8, 16, 32 ×
	// 0.5, 1, 2 of 16: 12 anchors), one level of stride 16.
	Base           float64
	Scales, Ratios []float64
	PreNMSTopN     int     // 6000
	PostNMSTopN    int     // 300
	RPNNMSThresh   float32 // 0.7
	// RoISize is the side of the map pooled per proposal before layer4
	// (14); RoIOp is "align" (roi_align, adaptive sampling,
	// aligned=False) or "pool" (roi_pool).
	RoISize int
	RoIOp   string
	// BBoxStds un-normalise the head's deltas: 0.1, 0.1, 0.2, 0.2.
	BBoxStds [4]float32
	// Chunk is how many proposals go through layer4 together (memory:
	// Chunk × 1024 × 14 × 14 floats and layer4's activations).
	Chunk int
}

// DefaultC4Config is the Visual Genome Faster R-CNN's test setting.
func DefaultC4Config() C4Config {
	return C4Config{Short: 600, MaxSize: 1000, Base: 16, Scales: []float64{4, 8, 16, 32}, Ratios: []float64{0.5, 1, 2},
		PreNMSTopN: 6000, PostNMSTopN: 300, RPNNMSThresh: 0.7, RoISize: 14, RoIOp: "align",
		BBoxStds: [4]float32{0.1, 0.1, 0.2, 0.2}, Chunk: 64}
}

// PixelMeans are the Caffe models' BGR means, subtracted from 0–255
// pixels (no scaling by a std).
var PixelMeans = [3]float32{102.9801, 115.9465, 122.7717}

// FasterRCNNC4 is the caffe-style Faster R-CNN of jwyang's
// faster-rcnn.pytorch as faster_rcnn_res101_vg.pth holds it (Visual
// Genome: 1600 object classes + background): RCNN_base (ResNet stem …
// layer3, stride 16) → RCNN_rpn (RPN_Conv 3×3 + ReLU, RPN_cls_score 2A
// with a softmax per anchor, RPN_bbox_pred 4A) → RoI pooling of the
// proposals on the base map → RCNN_top (layer4) → spatial mean (the
// 2048-d fc7) → RCNN_cls_score (softmax) and RCNN_bbox_pred
// (class-specific or agnostic deltas).
type FasterRCNNC4 struct {
	Cfg           C4Config
	Trunk         *vision.ResNet
	NumClasses    int // including background (1601 for Visual Genome)
	ClassAgnostic bool

	rpnConv *kernels.Conv2D
	rpnOut  *kernels.Conv2D // 2A scores (background A, then foreground A), then 4A deltas
	cell    []float32
	a       int
	pred    Linear // cls_score then bbox_pred
}

// LoadFasterRCNNC4 builds the model from its state dict (the "model"
// entry of the .pth), inferring depth, widths and class count from the
// shapes. Attribute heads and other extra keys are ignored. The model
// takes over sd's tensors.
func LoadFasterRCNNC4(sd checkpoint.StateDict, cfg C4Config) (*FasterRCNNC4, error) {
	trunk, err := vision.LoadResNet(sd, vision.CaffeVG)
	if err != nil {
		return nil, fmt.Errorf("faster r-cnn c4: %w", err)
	}
	m := &FasterRCNNC4{Cfg: cfg, Trunk: trunk}
	c4, c5 := trunk.Arch.OutChannels(3), trunk.Arch.OutChannels(4)
	if m.rpnConv, err = conv(sd, c4, 1, "RCNN_rpn.RPN_Conv"); err != nil {
		return nil, err
	}
	m.rpnConv.ReLU = true
	cls, err := conv(sd, m.rpnConv.OutC, 1, "RCNN_rpn.RPN_cls_score")
	if err != nil {
		return nil, err
	}
	box, err := conv(sd, m.rpnConv.OutC, 1, "RCNN_rpn.RPN_bbox_pred")
	if err != nil {
		return nil, err
	}
	m.cell = LegacyAnchors(cfg.Base, cfg.Ratios, cfg.Scales)
	m.a = len(m.cell) / 4
	if cls.OutC != 2*m.a || box.OutC != 4*m.a {
		return nil, fmt.Errorf("faster r-cnn c4: RCNN_rpn predicts %d scores and %d deltas per location, want %d and %d for %d anchors (%d scales × %d ratios)",
			cls.OutC, box.OutC, 2*m.a, 4*m.a, m.a, len(cfg.Scales), len(cfg.Ratios))
	}
	m.rpnOut = concatConvs(cls, box)
	clsScore, err := linear(sd, c5, "RCNN_cls_score")
	if err != nil {
		return nil, err
	}
	bbox, err := linear(sd, c5, "RCNN_bbox_pred")
	if err != nil {
		return nil, err
	}
	m.NumClasses = clsScore.Out
	switch bbox.Out {
	case 4:
		m.ClassAgnostic = true
	case 4 * clsScore.Out:
	default:
		return nil, fmt.Errorf("faster r-cnn c4: RCNN_bbox_pred has %d outputs, want 4 or 4 × %d classes", bbox.Out, clsScore.Out)
	}
	m.pred = concatLinear(clsScore, bbox)
	switch cfg.RoIOp {
	case "align", "pool":
	default:
		return nil, fmt.Errorf("faster r-cnn c4: roi_op %q: want align or pool", cfg.RoIOp)
	}
	if cfg.RoISize < 2 || cfg.Chunk < 1 || cfg.Short < 16 || cfg.MaxSize < cfg.Short {
		return nil, fmt.Errorf("faster r-cnn c4: roi size %d (≥ 2), chunk %d (≥ 1) or sizes %d/%d out of range", cfg.RoISize, cfg.Chunk, cfg.Short, cfg.MaxSize)
	}
	return m, nil
}

// FeatureDim is the region feature width (layer4 channels: 2048).
func (m *FasterRCNNC4) FeatureDim() int { return m.Trunk.Arch.OutChannels(4) }

// C4Workspace holds one image's activations, reused across calls; give
// each goroutine its own.
type C4Workspace struct {
	trunk, head         vision.Workspace
	input, base, hidden []float32
	rpn, pooled, batch  []float32
	out, baseHWC, src   []float32
	baseC, baseH, baseW int
}

// C4Output is what the detector computes for one image; boxes are in the
// pixels of the resized input (Frame maps them to the image).
type C4Output struct {
	Frame          Frame
	Proposals      []float32 // [R, 4], by descending objectness
	ProposalScores []float32 // [R] foreground probability
	Features       []float32 // [R, FeatureDim]: fc7, the mean of layer4 over each RoI
	ClsProb        []float32 // [R, NumClasses]
	Boxes          []float32 // [R, NumClasses, 4] decoded and clipped ([R, 4] when class-agnostic)
}

// Preprocess turns img into the caffe input: BGR 0–255 minus PixelMeans,
// resized bilinearly (F.interpolate, align_corners False; the original
// uses cv2.resize, whose 8-bit fixed-point arithmetic differs by rounding)
// so the short side is Short unless the long side would pass MaxSize.
func (m *FasterRCNNC4) Preprocess(ws *C4Workspace, img image.Image) ([]float32, Frame, error) {
	pix, w, h := rgbaPixels(img)
	if w <= 0 || h <= 0 {
		return nil, Frame{}, fmt.Errorf("faster r-cnn c4: empty image %d×%d", w, h)
	}
	scale := float64(m.Cfg.Short) / float64(min(w, h))
	if math.RoundToEven(scale*float64(max(w, h))) > float64(m.Cfg.MaxSize) {
		scale = float64(m.Cfg.MaxSize) / float64(max(w, h))
	}
	oh, ow := int(math.RoundToEven(float64(h)*scale)), int(math.RoundToEven(float64(w)*scale))
	if oh < 16 || ow < 16 {
		return nil, Frame{}, fmt.Errorf("faster r-cnn c4: %d×%d image resizes to %d×%d, under the 16-pixel stride", w, h, ow, oh)
	}
	plane := w * h
	src := grow(&ws.src, 3*plane)
	for i := 0; i < plane; i++ {
		p := pix[4*i:]
		src[i] = float32(p[2]) - PixelMeans[0]
		src[plane+i] = float32(p[1]) - PixelMeans[1]
		src[2*plane+i] = float32(p[0]) - PixelMeans[2]
	}
	in := grow(&ws.input, 3*oh*ow)
	if oh == h && ow == w {
		copy(in, src)
	} else {
		kernels.Interpolate(in, src, 3, h, w, oh, ow, kernels.Interp{Mode: kernels.Bilinear})
	}
	return in, Frame{ImageW: w, ImageH: h, InputW: ow, InputH: oh, legacy: true, scale: scale}, nil
}

// Forward runs base, RPN and the detection head on one image. The base
// map stays in ws for PoolFeatures until the next call.
func (m *FasterRCNNC4) Forward(ws *C4Workspace, img image.Image) (*C4Output, error) {
	in, f, err := m.Preprocess(ws, img)
	if err != nil {
		return nil, err
	}
	base, sh := m.Trunk.Forward(&ws.trunk, in, vision.Shape{N: 1, C: 3, H: f.InputH, W: f.InputW}, 0, 3)
	ws.base = grow(&ws.base, sh.Len())
	copy(ws.base, base)
	ws.baseC, ws.baseH, ws.baseW = sh.C, sh.H, sh.W
	ws.baseHWC = grow(&ws.baseHWC, sh.Len())
	kernels.ToHWC(ws.baseHWC, ws.base, sh.C, sh.H*sh.W)
	props, scores := m.proposals(ws, f)
	out := &C4Output{Frame: f, Proposals: props, ProposalScores: scores}
	out.Features = m.PoolFeatures(ws, props)
	n := len(scores)
	nc := m.NumClasses
	pred := grow(&ws.out, n*m.pred.Out)
	if n > 0 {
		m.pred.Forward(pred, out.Features, n, false)
	}
	out.ClsProb = make([]float32, n*nc)
	nb := nc
	if m.ClassAgnostic {
		nb = 1
	}
	out.Boxes = make([]float32, n*nb*4)
	coder := BoxCoder{Legacy: true, Stds: m.Cfg.BBoxStds}
	for i := 0; i < n; i++ {
		row := pred[i*m.pred.Out : (i+1)*m.pred.Out]
		kernels.SoftmaxSerial(out.ClsProb[i*nc:(i+1)*nc], row[:nc], nil, 1, nc)
		for c := 0; c < nb; c++ {
			b := out.Boxes[(i*nb+c)*4 : (i*nb+c+1)*4]
			coder.Decode(b, row[nc+4*c:nc+4*c+4], props[4*i:4*i+4])
		}
	}
	ClipBoxes(out.Boxes, f.InputW, f.InputH, true)
	return out, nil
}

// proposals is jwyang's _ProposalLayer at test time: foreground
// probabilities (softmax of each anchor's background/foreground pair),
// legacy decoding of the 12 anchors per location, clipping to the input,
// the PreNMSTopN best, NMS (legacy, IoU ≥ RPNNMSThresh), the PostNMSTopN
// first.
func (m *FasterRCNNC4) proposals(ws *C4Workspace, f Frame) ([]float32, []float32) {
	h, w := ws.baseH, ws.baseW
	hw := h * w
	a := m.a
	hid := grow(&ws.hidden, m.rpnConv.OutC*hw)
	m.rpnConv.Forward(hid, ws.base, 1, h, w, grow(&ws.pooled, m.rpnConv.ColSize(h, w)))
	out := grow(&ws.rpn, 6*a*hw)
	m.rpnOut.Forward(out, hid, 1, h, w, nil)
	anchors := GridAnchors(m.cell, h, w, 16, 16)
	scores := make([]float32, hw*a)
	for k := 0; k < a; k++ {
		for loc := 0; loc < hw; loc++ {
			bg, fg := out[k*hw+loc], out[(a+k)*hw+loc]
			mx := max(bg, fg)
			e0, e1 := kernels.Expf(bg-mx), kernels.Expf(fg-mx)
			scores[loc*a+k] = e1 / (e0 + e1)
		}
	}
	order := topK(scores, m.Cfg.PreNMSTopN)
	boxes := make([]float32, 4*len(order))
	top := make([]float32, len(order))
	var d [4]float32
	for j, i := range order {
		loc, k := i/a, i%a
		for c := 0; c < 4; c++ {
			d[c] = out[(2*a+4*k+c)*hw+loc]
		}
		BoxCoder{Legacy: true}.Decode(boxes[4*j:4*j+4], d[:], anchors[4*i:4*i+4])
		top[j] = scores[i]
	}
	ClipBoxes(boxes, f.InputW, f.InputH, true)
	// the candidates are already by descending score: NMS keeps that order
	seq := make([]int, len(order))
	for i := range seq {
		seq[i] = i
	}
	keep := nmsOrdered(boxes, seq, m.Cfg.RPNNMSThresh, true)
	keep = keep[:min(len(keep), m.Cfg.PostNMSTopN)]
	props, ps := make([]float32, 0, 4*len(keep)), make([]float32, 0, len(keep))
	for _, i := range keep {
		props = append(props, boxes[4*i:4*i+4]...)
		ps = append(ps, top[i])
	}
	return props, ps
}

// PoolFeatures returns the fc7 feature of each box (input pixels) on the
// base map of the image Forward last ran on: RoI pooling to RoISize² at
// stride 16, layer4 over the pooled maps (Chunk boxes per batch), mean
// over space.
func (m *FasterRCNNC4) PoolFeatures(ws *C4Workspace, boxes []float32) []float32 {
	n := len(boxes) / 4
	c, r := ws.baseC, m.Cfg.RoISize
	dim := m.FeatureDim()
	feats := make([]float32, n*dim)
	for lo := 0; lo < n; lo += m.Cfg.Chunk {
		hi := min(lo+m.Cfg.Chunk, n)
		nb := hi - lo
		bx := boxes[4*lo : 4*hi]
		// channel-major [C, boxes, r, r]: layer4 makes one GEMM per conv
		batch := grow(&ws.batch, nb*c*r*r)
		if m.Cfg.RoIOp == "pool" {
			pooled := grow(&ws.pooled, nb*c*r*r)
			kernels.RoIPool(pooled, ws.base, c, ws.baseH, ws.baseW, bx, r, r, 1.0/16)
			for b := 0; b < nb; b++ {
				for ch := 0; ch < c; ch++ {
					copy(batch[(ch*nb+b)*r*r:(ch*nb+b+1)*r*r], pooled[(b*c+ch)*r*r:(b*c+ch+1)*r*r])
				}
			}
		} else {
			idx := make([]int, nb)
			for i := range idx {
				idx[i] = i
			}
			kernels.RoIAlignHWC(batch, ws.baseHWC, c, ws.baseH, ws.baseW, bx, idx, r, r, 1.0/16, 0, nb)
		}
		top, hs := m.Trunk.Forward(&ws.head, batch, vision.Shape{N: nb, C: c, H: r, W: r}, 4, 4)
		if hs.C != dim {
			panic(fmt.Sprintf("detect: C4 head gives %d channels, features are %d-d", hs.C, dim))
		}
		kernels.MeanPlanesCNHW(feats[lo*dim:(lo+nb)*dim], top, hs.C, nb, hs.H*hs.W)
	}
	return feats
}

// ClassProbs returns the softmax class probabilities [n, NumClasses] of
// n fc7 features [n, FeatureDim] (what MMF's detectron.lmdb keeps as
// cls_prob).
func (m *FasterRCNNC4) ClassProbs(feats []float32) []float32 {
	n := len(feats) / m.FeatureDim()
	nc := m.NumClasses
	pred := make([]float32, n*m.pred.Out)
	if n > 0 {
		m.pred.Forward(pred, feats, n, false)
	}
	out := make([]float32, n*nc)
	for i := 0; i < n; i++ {
		kernels.SoftmaxSerial(out[i*nc:(i+1)*nc], pred[i*m.pred.Out:i*m.pred.Out+nc], nil, 1, nc)
	}
	return out
}

// MaxConf is bottom-up-attention's region scoring (generate_tsv.py): for
// every object class (background excluded) NMS at thresh over the
// proposals by that class's probability, and each proposal's highest
// class probability among the classes where it survived (0 if none).
func (o *C4Output) MaxConf(numClasses int, thresh float32) []float32 {
	n := len(o.ProposalScores)
	// the proposals are shared by every class: their overlaps once
	areas := make([]float32, n)
	for i := range areas {
		b := o.Proposals[4*i : 4*i+4]
		areas[i] = (b[2] - b[0] + 1) * (b[3] - b[1] + 1)
	}
	over := make([]bool, n*n)
	kernels.ParallelFor(n, n, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			bi := o.Proposals[4*i : 4*i+4]
			for j := 0; j < n; j++ {
				bj := o.Proposals[4*j : 4*j+4]
				w := max(min(bi[2], bj[2])-max(bi[0], bj[0])+1, 0)
				h := max(min(bi[3], bj[3])-max(bi[1], bj[1])+1, 0)
				inter := w * h
				over[i*n+j] = inter/(areas[i]+areas[j]-inter) >= thresh
			}
		}
	})
	maxConf := make([]float32, n)
	col := make([]float32, n)
	suppressed := make([]bool, n)
	for c := 1; c < numClasses; c++ {
		for i := range col {
			col[i] = o.ClsProb[i*numClasses+c]
		}
		clear(suppressed)
		for _, i := range argsortDesc(col) {
			if suppressed[i] {
				continue
			}
			maxConf[i] = max(maxConf[i], col[i])
			row := over[i*n : (i+1)*n]
			for j, ov := range row {
				if ov {
					suppressed[j] = true
				}
			}
		}
	}
	return maxConf
}

// DetectPerClass is the detector's usual output (jwyang's test_net): for
// every object class, the proposals' class-specific boxes scoring above
// scoreThresh, NMS (legacy) at nmsThresh; then all classes together by
// descending score, at most maxDets. Boxes are in input pixels.
func (o *C4Output) DetectPerClass(numClasses int, scoreThresh, nmsThresh float32, maxDets int) (boxes, scores []float32, labels []int) {
	n := len(o.ProposalScores)
	agnostic := len(o.Boxes) == 4*n
	var cb, cs []float32
	for c := 1; c < numClasses; c++ {
		cb, cs = cb[:0], cs[:0]
		for i := 0; i < n; i++ {
			p := o.ClsProb[i*numClasses+c]
			if p <= scoreThresh {
				continue
			}
			bi := i*numClasses + c
			if agnostic {
				bi = i
			}
			cb = append(cb, o.Boxes[4*bi:4*bi+4]...)
			cs = append(cs, p)
		}
		for _, k := range NMS(cb, cs, nmsThresh, true) {
			boxes = append(boxes, cb[4*k:4*k+4]...)
			scores = append(scores, cs[k])
			labels = append(labels, c)
		}
	}
	order := argsortDesc(scores)
	order = order[:min(len(order), maxDets)]
	return gather(boxes, scores, labels, order)
}
