package synth

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"sync"

	"mmc/atomicfile"
	"mmc/features"
	"mmc/memes"
)

// ParamsFile is the file, at the data set root, that records the
// parameters a synthetic set was generated with.
const ParamsFile = "synthetic_params.json"

// SidecarName is the file, next to a split's JSONL, that describes each
// of its images (objects, boxes, background, caption).
func SidecarName(split string) string { return split + "_scenes.json" }

// Sidecar is the content of a split's sidecar file.
type Sidecar struct {
	Split    string  `json:"split"`
	Labelled bool    `json:"labelled"`
	Scenes   []Scene `json:"scenes"`
}

// WriteJSONL writes memes in the Hateful Memes line format.
func WriteJSONL(w io.Writer, ms []memes.Meme) error {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	for _, m := range ms {
		if err := enc.Encode(m); err != nil {
			return fmt.Errorf("meme %s: %w", m.ID, err)
		}
	}
	return nil
}

// Write lays the whole set out under root as the Hateful Memes release
// does — <split>.jsonl and img/<id>.png — plus the sidecars and
// ParamsFile (WriteSplits then WriteScenes).
func Write(root string, set *Set) error {
	if err := WriteSplits(root, set); err != nil {
		return err
	}
	return WriteScenes(root, set)
}

// WriteSplits writes root/<split>.jsonl for every split, each file
// atomically.
func WriteSplits(root string, set *Set) error {
	for _, sd := range set.Splits {
		path := filepath.Join(root, sd.Name+".jsonl")
		if err := atomicfile.WriteFile(path, func(w io.Writer) error { return WriteJSONL(w, sd.Memes) }); err != nil {
			return err
		}
	}
	return nil
}

// WriteScenes draws every picture into root/img (built aside and renamed
// into place, so a failed run leaves the old folder), then writes the
// sidecars and ParamsFile, each atomically.
func WriteScenes(root string, set *Set) error {
	err := atomicfile.WriteDir(filepath.Join(root, "img"), func(tmp string) error {
		return RenderAll(tmp, set, runtime.GOMAXPROCS(0))
	})
	if err != nil {
		return err
	}
	for _, sd := range set.Splits {
		side, err := json.MarshalIndent(Sidecar{Split: sd.Name, Labelled: sd.Labelled, Scenes: sd.Scenes}, "", " ")
		if err != nil {
			return fmt.Errorf("encode %s: %w", SidecarName(sd.Name), err)
		}
		if err := atomicfile.WriteBytes(filepath.Join(root, SidecarName(sd.Name)), append(side, '\n')); err != nil {
			return err
		}
	}
	meta, err := json.MarshalIndent(set.Params, "", "  ")
	if err != nil {
		return fmt.Errorf("encode %s: %w", ParamsFile, err)
	}
	return atomicfile.WriteBytes(filepath.Join(root, ParamsFile), append(meta, '\n'))
}

// ReadScenes loads a set written by WriteScenes: the parameters, then
// each split's sidecar, from which the memes are rebuilt (the label is
// whether the caption's concept is among the objects).
func ReadScenes(root string) (*Set, error) {
	path := filepath.Join(root, ParamsFile)
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read synthetic set: %w", err)
	}
	set := &Set{}
	if err := json.Unmarshal(b, &set.Params); err != nil {
		return nil, fmt.Errorf("read synthetic set %s: %w", path, err)
	}
	for _, sp := range set.Params.Splits {
		path := filepath.Join(root, SidecarName(sp.Name))
		b, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("read synthetic set: %w", err)
		}
		var side Sidecar
		if err := json.Unmarshal(b, &side); err != nil {
			return nil, fmt.Errorf("read synthetic set %s: %w", path, err)
		}
		sd := SplitData{Name: sp.Name, Labelled: side.Labelled, Scenes: side.Scenes}
		for _, s := range side.Scenes {
			m := memes.Meme{ID: s.ID, Img: s.Img, Text: s.Caption.Text}
			if sd.Labelled {
				l := 0
				for _, o := range s.Objects {
					if o.Colour == s.Caption.Colour && o.Shape == s.Caption.Shape {
						l = 1
					}
				}
				m.Label = &l
			}
			sd.Memes = append(sd.Memes, m)
		}
		set.Splits = append(set.Splits, sd)
	}
	return set, nil
}

// RenderAll draws every meme picture of the set as dir/<id>.png with the
// given number of goroutines.
func RenderAll(dir string, set *Set, workers int) error {
	type job struct {
		scene *Scene
		text  string
	}
	workers = max(1, workers)
	jobs := make(chan job)
	errs := make(chan error, workers)
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := NewRenderer()
			enc := png.Encoder{CompressionLevel: png.BestSpeed, BufferPool: &oneBuffer{}}
			var failed error
			for j := range jobs {
				if failed != nil {
					continue // drain so the producer never blocks
				}
				img, err := r.Render(j.scene, j.text)
				if err == nil {
					err = writePNG(filepath.Join(dir, filepath.Base(j.scene.Img)), &enc, img)
				}
				if err != nil {
					failed = fmt.Errorf("render %s: %w", j.scene.Img, err)
				}
			}
			if failed != nil {
				errs <- failed
			}
		}()
	}
	for si := range set.Splits {
		sd := &set.Splits[si]
		for i := range sd.Scenes {
			jobs <- job{&sd.Scenes[i], sd.Memes[i].Text}
		}
	}
	close(jobs)
	wg.Wait()
	close(errs)
	var all []error
	for err := range errs {
		all = append(all, err)
	}
	return errors.Join(all...)
}

// oneBuffer keeps one worker's PNG encoder state (zlib writer and row
// buffers) between images instead of allocating it for each.
type oneBuffer struct{ b *png.EncoderBuffer }

func (o *oneBuffer) Get() *png.EncoderBuffer  { return o.b }
func (o *oneBuffer) Put(b *png.EncoderBuffer) { o.b = b }

func writePNG(path string, enc *png.Encoder, img *image.RGBA) error {
	var buf bytes.Buffer
	var out image.Image = img
	if p, ok := toPaletted(img); ok {
		out = p
	}
	if err := enc.Encode(&buf, out); err != nil {
		return fmt.Errorf("encode %s: %w", path, err)
	}
	return os.WriteFile(path, buf.Bytes(), 0o644)
}

// toPaletted re-encodes an opaque picture with at most 256 distinct
// colours as a paletted image holding exactly the same pixels. Flat
// synthetic scenes nearly always qualify, and a paletted PNG is about
// three times smaller and faster to write and to decode.
func toPaletted(img *image.RGBA) (*image.Paletted, bool) {
	b := img.Bounds()
	index := make(map[uint32]uint8, 64)
	var pal color.Palette
	out := image.NewPaletted(b, nil)
	lastKey, lastIdx := uint32(1<<31), uint8(0) // runs of one colour skip the map
	for y := b.Min.Y; y < b.Max.Y; y++ {
		row := img.Pix[(y-b.Min.Y)*img.Stride:]
		dst := out.Pix[(y-b.Min.Y)*out.Stride:]
		for x := 0; x < b.Dx(); x++ {
			px := row[4*x : 4*x+4]
			if px[3] != 255 {
				return nil, false
			}
			key := uint32(px[0])<<16 | uint32(px[1])<<8 | uint32(px[2])
			if key == lastKey {
				dst[x] = lastIdx
				continue
			}
			i, ok := index[key]
			if !ok {
				if len(pal) == 256 {
					return nil, false
				}
				i = uint8(len(pal))
				index[key] = i
				pal = append(pal, color.RGBA{px[0], px[1], px[2], 255})
			}
			dst[x] = i
			lastKey, lastIdx = key, i
		}
	}
	out.Palette = pal
	return out, true
}

// Regions is a sequence of region-feature records that a feature store
// can consume one at a time, so a whole data set's features never need to
// sit in memory together.
type Regions interface {
	// Len is the number of records Each yields.
	Len() int
	// Each calls fn for every record in order, stopping at its first error.
	Each(fn func(*features.Record) error) error
}

// DetectedRegions runs the detector over every scene of the set while it
// is iterated: one record per meme image, keyed by the image's file stem
// (MMF's feature_path convention, which equals the meme id here).
type DetectedRegions struct {
	Set      *Set
	Detector *Detector
}

// Len counts the set's memes.
func (d *DetectedRegions) Len() int {
	n := 0
	for _, sd := range d.Set.Splits {
		n += len(sd.Scenes)
	}
	return n
}

// MaxRegions is the largest number of regions one record has.
func (d *DetectedRegions) MaxRegions() int {
	k := 0
	for _, sd := range d.Set.Splits {
		for _, s := range sd.Scenes {
			k = max(k, len(s.Objects))
		}
	}
	return d.Detector.NumRegions(k)
}

// Params returns the detector's parameters, for a store's provenance.
func (d *DetectedRegions) Params() DetectorParams { return d.Detector.p }

// Extractor names the detector in a feature store's provenance.
func (d *DetectedRegions) Extractor() string { return "mmc synthetic detector" }

// ExtractorParams is Params as the JSON object a feature store records.
func (d *DetectedRegions) ExtractorParams() map[string]any {
	b, err := json.Marshal(d.Params())
	if err != nil {
		return nil
	}
	var m map[string]any
	if json.Unmarshal(b, &m) != nil {
		return nil
	}
	return m
}

// Each computes and yields the records.
func (d *DetectedRegions) Each(fn func(*features.Record) error) error {
	for _, sd := range d.Set.Splits {
		for i := range sd.Scenes {
			rec, err := d.Detector.Features(&sd.Scenes[i])
			if err != nil {
				return fmt.Errorf("split %s: %w", sd.Name, err)
			}
			if err := fn(rec); err != nil {
				return fmt.Errorf("split %s: features of %s: %w", sd.Name, rec.ID, err)
			}
		}
	}
	return nil
}
