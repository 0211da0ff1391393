package catalog

import (
	"bufio"
	"context"
	"fmt"
	"image"
	"image/png"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"

	"mmc/atomicfile"
)

func pngFolderFormat() Format {
	return Format{Name: "png_folder",
		Doc:     "a folder of PNG files as map[name]image.Image (name = file name without .png); saved whole, atomically",
		New:     func(s Spec) (Dataset, error) { return &pngFolder{path: s.Filepath}, nil },
		Accepts: AcceptTypes(reflect.TypeFor[map[string]image.Image]()), NeedsFilepath: true}
}

// pngFolder is a directory of PNG images, like Hateful Memes' img/.
type pngFolder struct{ path string }

func (d *pngFolder) Load(ctx context.Context, _ reflect.Type) (any, error) {
	entries, err := os.ReadDir(d.path)
	if err != nil {
		if os.IsNotExist(err) {
			return nil, fmt.Errorf("folder %s does not exist: %w", d.path, ErrNotFound)
		}
		return nil, err
	}
	out := make(map[string]image.Image, len(entries))
	for _, e := range entries {
		name := e.Name()
		if e.IsDir() || !strings.EqualFold(filepath.Ext(name), ".png") {
			continue
		}
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		img, err := decodePNG(filepath.Join(d.path, name))
		if err != nil {
			return nil, err
		}
		out[strings.TrimSuffix(name, filepath.Ext(name))] = img
	}
	return out, nil
}

func decodePNG(path string) (image.Image, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	img, err := png.Decode(bufio.NewReader(f))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return img, nil
}

func (d *pngFolder) Save(ctx context.Context, v any) error {
	imgs, ok := v.(map[string]image.Image)
	if !ok {
		return fmt.Errorf("png_folder saves map[string]image.Image, not %T", v)
	}
	names := make([]string, 0, len(imgs))
	for n := range imgs {
		if n == "" || strings.ContainsAny(n, `/\`) || n == "." || n == ".." {
			return fmt.Errorf("png_folder: unsafe image name %q", n)
		}
		names = append(names, n)
	}
	sort.Strings(names)
	return atomicfile.WriteDir(d.path, func(tmp string) error {
		for _, n := range names {
			if err := ctx.Err(); err != nil {
				return err
			}
			f, err := os.Create(filepath.Join(tmp, n+".png"))
			if err != nil {
				return err
			}
			w := bufio.NewWriter(f)
			err = png.Encode(w, imgs[n])
			if err == nil {
				err = w.Flush()
			}
			if cerr := f.Close(); err == nil {
				err = cerr
			}
			if err != nil {
				return fmt.Errorf("image %s: %w", n, err)
			}
		}
		return nil
	})
}

func (d *pngFolder) Exists() (bool, error) { return fileExists(d.path) }
func (d *pngFolder) Describe() string      { return "png_folder " + d.path }
