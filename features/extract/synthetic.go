package extract

import (
	"context"
	"fmt"

	"mmc/features"
	"mmc/synth"
)

// Synthetic is the "synthetic" extractor: synth's stand-in for a
// Faster R-CNN detector. It describes an image by the scene it was drawn
// from (read from the folder's scene sidecars, written by the
// synthetic_memes pipeline), not by its pixels, so it only knows the
// synthetic set's images; it checks that the picture has the scene's
// size. Its records equal the synthetic_memes pipeline's stores.
type Synthetic struct {
	synth.DetectorParams
}

// Doc describes the extractor.
func (Synthetic) Doc() string {
	return "synthetic detector: regions from the scene each synthetic meme image was drawn from"
}

// New reads the scenes of the set at root and draws the detector's codes.
func (p Synthetic) New(root string) (Extractor, error) {
	det, err := synth.NewDetector(p.DetectorParams)
	if err != nil {
		return nil, err
	}
	set, err := synth.ReadScenes(root)
	if err != nil {
		return nil, fmt.Errorf("synthetic extractor needs the scenes of a synthetic set (run the synthetic_memes pipeline): %w", err)
	}
	e := &syntheticExtractor{det: det, scenes: map[string]*synth.Scene{}}
	most := 0
	for _, sd := range set.Splits {
		for i := range sd.Scenes {
			s := &sd.Scenes[i]
			e.scenes[string(s.ID)] = s
			most = max(most, len(s.Objects))
		}
	}
	e.most = det.NumRegions(most)
	return e, nil
}

type syntheticExtractor struct {
	det    *synth.Detector
	scenes map[string]*synth.Scene
	most   int
}

func (e *syntheticExtractor) MaxRegions() int { return e.most }

func (e *syntheticExtractor) Extract(ctx context.Context, batch []Image) ([]*features.Record, error) {
	out := make([]*features.Record, len(batch))
	for i, img := range batch {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		s, ok := e.scenes[img.ID]
		if !ok {
			return nil, fmt.Errorf("synthetic extractor: image %s (%s) is not a scene of the synthetic set", img.ID, img.Path)
		}
		if b := img.Pixels.Bounds(); b.Dx() != s.Width || b.Dy() != s.Height {
			return nil, fmt.Errorf("synthetic extractor: image %s is %d×%d, its scene %d×%d", img.Path, b.Dx(), b.Dy(), s.Width, s.Height)
		}
		rec, err := e.det.Features(s)
		if err != nil {
			return nil, fmt.Errorf("synthetic extractor: image %s: %w", img.Path, err)
		}
		out[i] = rec
	}
	return out, nil
}
