package formats

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"

	"mmc/catalog"
	"mmc/ml/checkpoint"
	"mmc/ml/models"
	"mmc/ml/vilbert"
)

// ModelCheckpoint is the "model_checkpoint" catalog format: it stores a
// models.Trained as our
// checkpoint layout: the weights in <filepath> (safetensors) and the
// JSON sidecar beside it (best.safetensors → best.json). Both files are
// written atomically, weights first, so a sidecar never describes
// weights that are not there.
//
// It also loads (read-only) a PyTorch checkpoint (.pth, .bin, .pt), such
// as MMF's fine-tuned Hateful Memes ViLBERT: a file without a sidecar is
// taken to be the Facebook architecture with MMF's head on 2048-d
// regions, unless load_args.vilbert_config names a vilbert-multi-task
// style JSON configuration (bert_base_6layer_6conect.json).
func ModelCheckpoint() catalog.Format {
	return catalog.Format{
		Name:          "model_checkpoint",
		Doc:           "trained model: safetensors weights plus JSON sidecar (model, config, epoch, metrics)",
		Accepts:       catalog.AcceptTypes(reflect.TypeFor[models.Trained]()),
		NeedsFilepath: true,
		New: func(s catalog.Spec) (catalog.Dataset, error) {
			d := &checkpointDataset{path: s.Filepath}
			if err := s.DecodeLoadArgs(&d.args); err != nil {
				return nil, err
			}
			return d, nil
		},
	}
}

type checkpointDataset struct {
	path string
	args struct {
		VilbertConfig string `yaml:"vilbert_config"`
	}
}

// isPyTorch reports whether the path names a torch.save file.
func (d *checkpointDataset) isPyTorch() bool {
	switch strings.ToLower(filepath.Ext(d.path)) {
	case ".pth", ".bin", ".pt":
		return true
	}
	return false
}

func (d *checkpointDataset) Load(_ context.Context, _ reflect.Type) (any, error) {
	side := checkpoint.SidecarPath(d.path)
	if _, err := os.Stat(d.path); errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("model checkpoint %s not found: it is written by a training pipeline (vilbert_lmdb_train, vilbert_precomputed_train or the default pipeline)", d.path)
	}
	if d.isPyTorch() {
		return d.loadPyTorch()
	}
	if ok, err := fileExists(side); err == nil && !ok {
		return nil, missingSidecar(d.path, side)
	}
	sc, err := checkpoint.ReadSidecar(side)
	if err != nil {
		return nil, fmt.Errorf("model checkpoint %s: %w", d.path, err)
	}
	sd, _, err := checkpoint.LoadSafetensors(d.path)
	if err != nil {
		return nil, fmt.Errorf("model checkpoint: %w", err)
	}
	return models.Trained{Weights: sd, Sidecar: sc}, nil
}

// loadPyTorch reads a torch.save checkpoint and describes it as a ViLBERT.
func (d *checkpointDataset) loadPyTorch() (models.Trained, error) {
	sd, err := models.ReadWeights(d.path)
	if err != nil {
		return models.Trained{}, err
	}
	c := vilbert.DefaultConfig()
	if d.args.VilbertConfig != "" {
		if c, err = vilbert.LoadConfigJSON(d.args.VilbertConfig); err != nil {
			return models.Trained{}, fmt.Errorf("model checkpoint %s: %w", d.path, err)
		}
	}
	mp := models.Params{Kind: models.KindViLBERT, ViLBERT: models.ViLBERTParams{Config: c}, FeatDim: c.VFeatureSize}
	cfg, err := json.Marshal(mp)
	if err != nil {
		return models.Trained{}, err
	}
	return models.Trained{Weights: sd, Sidecar: checkpoint.Sidecar{Format: checkpoint.SidecarFormat, Model: models.KindViLBERT, Config: cfg}}, nil
}

func (d *checkpointDataset) Save(_ context.Context, v any) error {
	if d.isPyTorch() {
		return fmt.Errorf("model checkpoint %s: PyTorch files are read-only here; save to a .safetensors path", d.path)
	}
	tm, ok := v.(models.Trained)
	if !ok {
		return fmt.Errorf("model checkpoint %s: cannot save %T", d.path, v)
	}
	if err := checkpoint.SaveSafetensors(d.path, tm.Weights, map[string]string{"format": "pt", "model": tm.Sidecar.Model}); err != nil {
		return err
	}
	return checkpoint.WriteSidecar(checkpoint.SidecarPath(d.path), tm.Sidecar)
}

// Exists reports whether the weights and (for our layout) the sidecar
// are there. Weights without their sidecar are an error saying so, not
// a missing dataset: the file the user sees is there.
func (d *checkpointDataset) Exists() (bool, error) {
	if ok, err := fileExists(d.path); !ok || err != nil {
		return false, err
	}
	if d.isPyTorch() {
		return true, nil
	}
	side := checkpoint.SidecarPath(d.path)
	ok, err := fileExists(side)
	if err != nil {
		return false, err
	}
	if !ok {
		return false, missingSidecar(d.path, side)
	}
	return true, nil
}

func missingSidecar(weights, side string) error {
	return fmt.Errorf("model checkpoint %s: the weights file is there but its sidecar %s (the model description that rebuilds it) is missing; run the training pipeline that writes it again", weights, side)
}

// fileExists reports whether path exists; other stat errors are returned.
func fileExists(path string) (bool, error) {
	_, err := os.Stat(path)
	if errors.Is(err, os.ErrNotExist) {
		return false, nil
	}
	return err == nil, err
}

func (d *checkpointDataset) Describe() string { return "model_checkpoint " + d.path }
