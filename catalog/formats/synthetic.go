package formats

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"

	"mmc/catalog"
	"mmc/synth"
)

// SyntheticScenes is the "synthetic_scenes" format: a *synth.Set's
// pictures (img/<id>.png), per-split scene sidecars and parameters.
func SyntheticScenes() catalog.Format {
	return catalog.Format{
		Name:          "synthetic_scenes",
		Doc:           "the pictures (img/<id>.png), per-split scene sidecars and parameters of a synthetic meme set",
		Accepts:       catalog.AcceptTypes(reflect.TypeFor[*synth.Set]()),
		NeedsFilepath: true,
		New: func(s catalog.Spec) (catalog.Dataset, error) {
			return &scenesDataset{root: s.Filepath}, nil
		},
	}
}

// scenesDataset stores a *synth.Set's pictures and sidecars under root;
// the split files are the meme_folder dataset's business.
type scenesDataset struct{ root string }

func (d *scenesDataset) Describe() string { return "synthetic_scenes " + d.root }

func (d *scenesDataset) Exists() (bool, error) {
	_, err := os.Stat(filepath.Join(d.root, synth.ParamsFile))
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	return err == nil, err
}

func (d *scenesDataset) Load(context.Context, reflect.Type) (any, error) {
	return synth.ReadScenes(d.root)
}

func (d *scenesDataset) Save(_ context.Context, v any) error {
	set, ok := v.(*synth.Set)
	if !ok || set == nil {
		return fmt.Errorf("synthetic_scenes saves a *synth.Set, got %T", v)
	}
	return synth.WriteScenes(d.root, set)
}
