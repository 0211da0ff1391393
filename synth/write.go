package synth

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"image"
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

// SidecarName is the file, next to a split's JSONL, that describes each
// of its images (objects, boxes, background, caption band).
func SidecarName(split string) string { return split + "_scenes.json" }

// Sidecar is the content of a split's sidecar file.
type Sidecar struct {
	Split  string  `json:"split"`
	Scenes []Scene `json:"scenes"`
}

// WriteJSONL writes memes in the Hateful Memes line format.
func WriteJSONL(w io.Writer, ms []memes.Meme) error {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	for _, m := range ms {
		if err := enc.Encode(m); err != nil {
			return err
		}
	}
	return nil
}

// Write lays the set out under root exactly as the Hateful Memes release
// does — <split>.jsonl, img/<id>.png — plus <split>_scenes.json sidecars
// and synthetic_params.json. The directory is built next to root and
// renamed into place, so a failed run leaves the old root untouched.
func Write(root string, set *Set) error {
	return atomicfile.WriteDir(root, func(tmp string) error {
		if err := os.Mkdir(filepath.Join(tmp, "img"), 0o755); err != nil {
			return err
		}
		for _, sd := range set.Splits {
			if err := writeSplitFiles(tmp, &sd); err != nil {
				return err
			}
		}
		meta, err := json.MarshalIndent(set.Params, "", "  ")
		if err != nil {
			return fmt.Errorf("encode synthetic_params.json: %w", err)
		}
		if err := os.WriteFile(filepath.Join(tmp, "synthetic_params.json"), append(meta, '\n'), 0o644); err != nil {
			return err
		}
		return RenderAll(tmp, set, runtime.GOMAXPROCS(0))
	})
}

func writeSplitFiles(dir string, sd *SplitData) error {
	var buf bytes.Buffer
	if err := WriteJSONL(&buf, sd.Memes); err != nil {
		return fmt.Errorf("encode %s.jsonl: %w", sd.Name, err)
	}
	if err := os.WriteFile(filepath.Join(dir, sd.Name+".jsonl"), buf.Bytes(), 0o644); err != nil {
		return err
	}
	side, err := json.MarshalIndent(Sidecar{Split: sd.Name, Scenes: sd.Scenes}, "", " ")
	if err != nil {
		return fmt.Errorf("encode %s: %w", SidecarName(sd.Name), err)
	}
	return os.WriteFile(filepath.Join(dir, SidecarName(sd.Name)), append(side, '\n'), 0o644)
}

// RenderAll draws every meme picture of the set as root/<img> with the
// given number of goroutines.
func RenderAll(root string, set *Set, workers int) error {
	type job struct {
		scene *Scene
		text  string
	}
	jobs := make(chan job)
	errs := make(chan error, workers)
	var wg sync.WaitGroup
	for range max(1, workers) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := NewRenderer()
			enc := png.Encoder{CompressionLevel: png.BestSpeed}
			var failed error
			for j := range jobs {
				if failed != nil {
					continue // drain so the producer never blocks
				}
				img, err := r.Render(j.scene, j.text)
				if err == nil {
					path := filepath.Join(root, filepath.FromSlash(j.scene.Img))
					err = writePNG(path, &enc, img)
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
	return <-errs
}

func writePNG(path string, enc *png.Encoder, img image.Image) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	bw := bufio.NewWriter(f)
	if err := enc.Encode(bw, img); err != nil {
		f.Close()
		return fmt.Errorf("encode %s: %w", path, err)
	}
	if err := bw.Flush(); err != nil {
		f.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	return f.Close()
}

// WriteFeatures runs the detector over every scene of the set and puts
// one record per meme image into w (which the caller closes). Records
// are keyed by the image's file stem, MMF's feature_path convention.
func WriteFeatures(w features.Writer, det *Detector, set *Set) (int, error) {
	n := 0
	for _, sd := range set.Splits {
		for i := range sd.Scenes {
			rec, err := det.Features(&sd.Scenes[i])
			if err != nil {
				return n, fmt.Errorf("split %s: %w", sd.Name, err)
			}
			if err := w.Put(rec); err != nil {
				return n, fmt.Errorf("split %s: store features of %s: %w", sd.Name, rec.ID, err)
			}
			n++
		}
	}
	return n, nil
}
