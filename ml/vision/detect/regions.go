package detect

import (
	"fmt"
	"image"
)

// Selection says which regions of an image become its features: the
// MaxRegions best-scoring detections at or above Threshold (36 and 0.2
// in the original project). With fewer above the threshold the rest is
// filled with the next best detections below it, then with the whole
// image, so every image has MaxRegions regions; Regions.Detected records
// how many passed the threshold.
type Selection struct {
	MaxRegions int
	Threshold  float32
	// ClsProb asks the C4 (Visual Genome) model for each region's class
	// probabilities (Regions.ClsProb), as MMF's detectron.lmdb keeps them.
	ClsProb bool
}

// SelectRegions returns the indices of the selected scores (−1: the
// whole image), best first, and how many scored at least the threshold.
func SelectRegions(scores []float32, s Selection) (idx []int, detected int) {
	order := argsortDesc(scores)
	for _, i := range order {
		if len(idx) == s.MaxRegions {
			break
		}
		if scores[i] >= s.Threshold {
			detected++
		}
		idx = append(idx, i)
	}
	for len(idx) < s.MaxRegions {
		idx = append(idx, -1)
	}
	return idx, detected
}

// Regions are one image's selected regions.
type Regions struct {
	Dim      int
	Boxes    []float32 // [n, 4] in pixels of the original image
	Features []float32 // [n, Dim]
	Scores   []float32 // [n] the detector's confidence (0 for a whole-image fill)
	Labels   []int     // [n] detected class (0, background, for a whole-image fill)
	ClsProb  []float32 // [n, classes] class probabilities of each region's feature (C4 models, when asked for)
	Detected int       // regions that scored at least the threshold
	ImageW   int
	ImageH   int
}

func (s Selection) check() error {
	if s.MaxRegions < 1 || s.Threshold < 0 || s.Threshold > 1 {
		return fmt.Errorf("detector: max_regions %d (≥ 1) or confidence_threshold %g (0–1) out of range", s.MaxRegions, s.Threshold)
	}
	return nil
}

// pick gathers the selected boxes (input pixels; −1 is whole, the whole
// input) with their scores and labels.
func pick(idx []int, boxes, scores []float32, labels []int, whole [4]float32) ([]float32, []float32, []int) {
	b := make([]float32, 0, 4*len(idx))
	s := make([]float32, len(idx))
	l := make([]int, len(idx))
	for j, i := range idx {
		if i < 0 {
			b = append(b, whole[:]...)
			continue
		}
		b = append(b, boxes[4*i:4*i+4]...)
		s[j], l[j] = scores[i], labels[i]
	}
	return b, s, l
}

// Extract detects objects in img and returns the selected regions with
// their 2048-d C5 features (see RegionFeatures).
func (m *FasterRCNNFPN) Extract(ws *FPNWorkspace, img image.Image, s Selection) (*Regions, error) {
	if err := s.check(); err != nil {
		return nil, err
	}
	det, err := m.Detect(ws, img)
	if err != nil {
		return nil, err
	}
	f := det.Frame
	idx, n := SelectRegions(det.Scores, s)
	boxes, scores, labels := pick(idx, det.Boxes, det.Scores, det.Labels, [4]float32{0, 0, float32(f.InputW), float32(f.InputH)})
	return &Regions{Dim: m.FeatureDim(), Boxes: f.ToImage(boxes), Features: m.RegionFeatures(ws, boxes),
		Scores: scores, Labels: labels, Detected: n, ImageW: f.ImageW, ImageH: f.ImageH}, nil
}

// C4Mode is how the caffe-style detector's regions are chosen.
type C4Mode int

const (
	// C4Detections: the detector's final boxes (class-specific
	// regression, per-class NMS 0.3, score above 0.05, at most 100),
	// selected by score; features re-pooled from the base map for the
	// regressed boxes.
	C4Detections C4Mode = iota
	// C4Proposals: bottom-up-attention's regions: the RPN proposals
	// themselves, scored by their best class probability surviving
	// per-class NMS 0.3 (MaxConf); features are their fc7.
	C4Proposals
)

// Extract runs the detector on img and returns the selected regions with
// their 2048-d fc7 features.
func (m *FasterRCNNC4) Extract(ws *C4Workspace, img image.Image, mode C4Mode, s Selection) (*Regions, error) {
	if err := s.check(); err != nil {
		return nil, err
	}
	out, err := m.Forward(ws, img)
	if err != nil {
		return nil, err
	}
	f := out.Frame
	whole := [4]float32{0, 0, float32(f.InputW - 1), float32(f.InputH - 1)}
	nc, dim := m.NumClasses, m.FeatureDim()
	r := &Regions{Dim: dim, ImageW: f.ImageW, ImageH: f.ImageH}
	var boxes []float32
	switch mode {
	case C4Proposals:
		conf := out.MaxConf(nc, 0.3)
		labels := make([]int, len(conf))
		for i := range labels {
			best := 1
			for c := 2; c < nc; c++ {
				if out.ClsProb[i*nc+c] > out.ClsProb[i*nc+best] {
					best = c
				}
			}
			labels[i] = best
		}
		var idx []int
		idx, r.Detected = SelectRegions(conf, s)
		boxes, r.Scores, r.Labels = pick(idx, out.Proposals, conf, labels, whole)
		r.Features = make([]float32, len(idx)*dim)
		var fill []int
		for j, i := range idx {
			if i < 0 {
				fill = append(fill, j)
				continue
			}
			copy(r.Features[j*dim:(j+1)*dim], out.Features[i*dim:(i+1)*dim])
		}
		if len(fill) > 0 {
			wf := m.PoolFeatures(ws, whole[:])
			for _, j := range fill {
				copy(r.Features[j*dim:(j+1)*dim], wf)
			}
		}
	default:
		db, ds, dl := out.DetectPerClass(nc, 0.05, 0.3, 100)
		var idx []int
		idx, r.Detected = SelectRegions(ds, s)
		boxes, r.Scores, r.Labels = pick(idx, db, ds, dl, whole)
		r.Features = m.PoolFeatures(ws, boxes)
	}
	r.Boxes = f.ToImage(boxes)
	if s.ClsProb {
		r.ClsProb = m.ClassProbs(r.Features)
	}
	return r, nil
}
