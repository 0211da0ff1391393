package detect

import (
	"math"
	"slices"

	"mmc/ml/kernels"
)

// Boxes are flat float32 slices of (x1, y1, x2, y2) quadruples, in the
// pixels of the model input unless said otherwise. All arithmetic is
// float32, in the order torchvision (or the legacy Caffe ports) write it,
// so results agree to rounding.

// BoxCoder decodes regression deltas (dx, dy, dw, dh) against reference
// boxes.
//
//   - Torchvision (Legacy false): widths are x2 − x1, deltas are divided
//     by Weights, dw and dh are clamped at Clip (log(1000/16)), and the
//     box is centre ± half the size.
//   - Legacy (py-faster-rcnn, jwyang's faster-rcnn.pytorch): widths are
//     x2 − x1 + 1, deltas are multiplied by Stds (BBOX_NORMALIZE_STDS;
//     zero means 1), no clamp.
type BoxCoder struct {
	Weights [4]float32
	Clip    float32
	Legacy  bool
	Stds    [4]float32
}

// BboxXformClip is torchvision's clamp of dw and dh: log(1000/16).
var BboxXformClip = float32(math.Log(1000.0 / 16))

// RPNCoder and RoICoder are torchvision's box coders of the RPN and the
// RoI heads.
var (
	RPNCoder = BoxCoder{Weights: [4]float32{1, 1, 1, 1}, Clip: BboxXformClip}
	RoICoder = BoxCoder{Weights: [4]float32{10, 10, 5, 5}, Clip: BboxXformClip}
)

// Decode writes the box that delta d (4 values) makes of reference box
// ref (4 values) into dst.
func (c BoxCoder) Decode(dst, d, ref []float32) {
	x1, y1, x2, y2 := ref[0], ref[1], ref[2], ref[3]
	if c.Legacy {
		w := x2 - x1 + 1
		h := y2 - y1 + 1
		cx := x1 + 0.5*w
		cy := y1 + 0.5*h
		dx, dy, dw, dh := d[0], d[1], d[2], d[3]
		if c.Stds[0] != 0 {
			dx, dy, dw, dh = dx*c.Stds[0], dy*c.Stds[1], dw*c.Stds[2], dh*c.Stds[3]
		}
		pcx := dx*w + cx
		pcy := dy*h + cy
		pw := kernels.Expf(dw) * w
		ph := kernels.Expf(dh) * h
		dst[0], dst[1], dst[2], dst[3] = pcx-0.5*pw, pcy-0.5*ph, pcx+0.5*pw, pcy+0.5*ph
		return
	}
	w := x2 - x1
	h := y2 - y1
	cx := x1 + 0.5*w
	cy := y1 + 0.5*h
	dx := d[0] / c.Weights[0]
	dy := d[1] / c.Weights[1]
	dw := min(d[2]/c.Weights[2], c.Clip)
	dh := min(d[3]/c.Weights[3], c.Clip)
	pcx := dx*w + cx
	pcy := dy*h + cy
	hw := 0.5 * (kernels.Expf(dw) * w)
	hh := 0.5 * (kernels.Expf(dh) * h)
	dst[0], dst[1], dst[2], dst[3] = pcx-hw, pcy-hh, pcx+hw, pcy+hh
}

// ClipBoxes clamps boxes to [0, w] × [0, h] (torchvision's
// clip_boxes_to_image) or, legacy, to [0, w−1] × [0, h−1].
func ClipBoxes(boxes []float32, w, h int, legacy bool) {
	fw, fh := float32(w), float32(h)
	if legacy {
		fw, fh = fw-1, fh-1
	}
	for i := 0; i+3 < len(boxes); i += 4 {
		boxes[i] = min(max(boxes[i], 0), fw)
		boxes[i+1] = min(max(boxes[i+1], 0), fh)
		boxes[i+2] = min(max(boxes[i+2], 0), fw)
		boxes[i+3] = min(max(boxes[i+3], 0), fh)
	}
}

// argsortDesc returns the indices of scores from the highest to the
// lowest, equal scores in index order (a stable sort, as torchvision's
// CPU NMS sorts).
func argsortDesc(scores []float32) []int {
	idx := make([]int, len(scores))
	for i := range idx {
		idx[i] = i
	}
	slices.SortStableFunc(idx, func(a, b int) int {
		switch {
		case scores[a] > scores[b]:
			return -1
		case scores[a] < scores[b]:
			return 1
		}
		return 0
	})
	return idx
}

// topK returns the indices of the k highest scores, highest first (what
// torch.topk returns, ties in index order).
func topK(scores []float32, k int) []int {
	idx := argsortDesc(scores)
	return idx[:min(k, len(idx))]
}

// NMS is greedy non-maximum suppression: boxes from the highest score
// down, each suppressing the later boxes that overlap it by more than
// thresh (torchvision.ops.nms). Legacy uses the Caffe ports' arithmetic
// (widths + 1, suppression at IoU ≥ thresh). It returns the indices kept,
// by descending score.
func NMS(boxes, scores []float32, thresh float32, legacy bool) []int {
	return nmsOrdered(boxes, argsortDesc(scores), thresh, legacy)
}

func nmsOrdered(boxes []float32, order []int, thresh float32, legacy bool) []int {
	var one float32
	if legacy {
		one = 1
	}
	n := len(boxes) / 4
	areas := make([]float32, n)
	for i := range areas {
		b := boxes[4*i : 4*i+4]
		areas[i] = (b[2] - b[0] + one) * (b[3] - b[1] + one)
	}
	suppressed := make([]bool, n)
	var keep []int
	for oi, i := range order {
		if suppressed[i] {
			continue
		}
		keep = append(keep, i)
		ix1, iy1, ix2, iy2 := boxes[4*i], boxes[4*i+1], boxes[4*i+2], boxes[4*i+3]
		ia := areas[i]
		for _, j := range order[oi+1:] {
			if suppressed[j] {
				continue
			}
			b := boxes[4*j : 4*j+4]
			w := max(min(ix2, b[2])-max(ix1, b[0])+one, 0)
			h := max(min(iy2, b[3])-max(iy1, b[1])+one, 0)
			inter := w * h
			ovr := inter / (ia + areas[j] - inter)
			if ovr > thresh || (legacy && ovr >= thresh) {
				suppressed[j] = true
			}
		}
	}
	return keep
}

// BatchedNMS runs NMS separately within each group (class or pyramid
// level) and returns the kept indices by descending score, as
// torchvision.ops.batched_nms: above 1000 boxes one NMS per group, below
// it one NMS over boxes shifted apart by group (float32 offsets of
// group × (largest coordinate + 1), its "coordinate trick").
func BatchedNMS(boxes, scores []float32, groups []int, thresh float32) []int {
	n := len(scores)
	if n == 0 {
		return nil
	}
	if 4*n > 4000 {
		ids := slices.Clone(groups)
		slices.Sort(ids)
		ids = slices.Compact(ids)
		mask := make([]bool, n)
		var sub []int
		var subBoxes, subScores []float32
		for _, g := range ids {
			sub, subBoxes, subScores = sub[:0], subBoxes[:0], subScores[:0]
			for i, gi := range groups {
				if gi == g {
					sub = append(sub, i)
					subBoxes = append(subBoxes, boxes[4*i:4*i+4]...)
					subScores = append(subScores, scores[i])
				}
			}
			for _, k := range NMS(subBoxes, subScores, thresh, false) {
				mask[sub[k]] = true
			}
		}
		var keep []int
		for i, m := range mask {
			if m {
				keep = append(keep, i)
			}
		}
		slices.SortStableFunc(keep, func(a, b int) int {
			switch {
			case scores[a] > scores[b]:
				return -1
			case scores[a] < scores[b]:
				return 1
			}
			return 0
		})
		return keep
	}
	maxc := boxes[0]
	for _, v := range boxes[:4*n] {
		maxc = max(maxc, v)
	}
	shifted := make([]float32, 4*n)
	for i := 0; i < n; i++ {
		off := float32(groups[i]) * (maxc + 1)
		for k := 0; k < 4; k++ {
			shifted[4*i+k] = boxes[4*i+k] + off
		}
	}
	return NMS(shifted, scores, thresh, false)
}

// removeSmall returns the indices of boxes at least minSize wide and
// high (torchvision's remove_small_boxes).
func removeSmall(boxes []float32, idx []int, minSize float32) []int {
	out := idx[:0]
	for _, i := range idx {
		b := boxes[4*i : 4*i+4]
		if b[2]-b[0] >= minSize && b[3]-b[1] >= minSize {
			out = append(out, i)
		}
	}
	return out
}

// CellAnchors returns torchvision's AnchorGenerator cell anchors of one
// level: for each aspect ratio r (h/w) and size s, the box
// round((−w, −h, w, h)/2) with h = √r·s and w = s/√r, ratio-major.
func CellAnchors(sizes, ratios []float32) []float32 {
	var out []float32
	for _, r := range ratios {
		hr := float32(math.Sqrt(float64(r)))
		wr := 1 / hr
		for _, s := range sizes {
			ws, hs := wr*s, hr*s
			out = append(out, roundEven(-ws/2), roundEven(-hs/2), roundEven(ws/2), roundEven(hs/2))
		}
	}
	return out
}

// LegacyAnchors returns py-faster-rcnn's generate_anchors: a base box
// (0, 0, base−1, base−1) reshaped to each aspect ratio (rounded widths),
// then scaled by each scale, ratio-major. base 16, ratios 0.5, 1, 2 and
// scales 4, 8, 16, 32 give the 12 anchors of the Visual Genome model.
func LegacyAnchors(base float64, ratios, scales []float64) []float32 {
	whctr := func(a [4]float64) (w, h, cx, cy float64) {
		w, h = a[2]-a[0]+1, a[3]-a[1]+1
		return w, h, a[0] + 0.5*(w-1), a[1] + 0.5*(h-1)
	}
	mk := func(w, h, cx, cy float64) [4]float64 {
		return [4]float64{cx - 0.5*(w-1), cy - 0.5*(h-1), cx + 0.5*(w-1), cy + 0.5*(h-1)}
	}
	w, h, cx, cy := whctr([4]float64{0, 0, base - 1, base - 1})
	var out []float32
	for _, r := range ratios {
		ws := math.RoundToEven(math.Sqrt(w * h / r))
		hs := math.RoundToEven(ws * r)
		ra := mk(ws, hs, cx, cy)
		rw, rh, rcx, rcy := whctr(ra)
		for _, s := range scales {
			a := mk(rw*s, rh*s, rcx, rcy)
			out = append(out, float32(a[0]), float32(a[1]), float32(a[2]), float32(a[3]))
		}
	}
	return out
}

func roundEven(v float32) float32 { return float32(math.RoundToEven(float64(v))) }

// GridAnchors places cell anchors (A of them) at every location of an
// h×w map of the given strides: anchor a at (y, x) is index (y·w + x)·A
// + a, shifted by (x·strideW, y·strideH).
func GridAnchors(cell []float32, h, w, strideH, strideW int) []float32 {
	a := len(cell) / 4
	out := make([]float32, 0, h*w*a*4)
	for y := 0; y < h; y++ {
		sy := float32(y * strideH)
		for x := 0; x < w; x++ {
			sx := float32(x * strideW)
			for k := 0; k < a; k++ {
				c := cell[4*k : 4*k+4]
				out = append(out, sx+c[0], sy+c[1], sx+c[2], sy+c[3])
			}
		}
	}
	return out
}
