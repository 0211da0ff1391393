package nodes

import (
	"context"
	"errors"
	"fmt"
	"os"
	"reflect"

	"mmc/catalog"
	"mmc/ml/checkpoint"
)

// The "model_checkpoint" catalog format stores a TrainedModel as our
// checkpoint layout: the weights in <filepath> (safetensors) and the
// JSON sidecar beside it (best.safetensors → best.json). Both files are
// written atomically, weights first, so a sidecar never describes
// weights that are not there.
func init() {
	catalog.Register(catalog.Format{
		Name:          "model_checkpoint",
		Doc:           "trained model: safetensors weights plus JSON sidecar (model, config, epoch, metrics)",
		Accepts:       catalog.AcceptTypes(reflect.TypeFor[TrainedModel]()),
		NeedsFilepath: true,
		New: func(s catalog.Spec) (catalog.Dataset, error) {
			return &checkpointDataset{path: s.Filepath}, nil
		},
	})
}

type checkpointDataset struct{ path string }

func (d *checkpointDataset) Load(_ context.Context, _ reflect.Type) (any, error) {
	side := checkpoint.SidecarPath(d.path)
	if _, err := os.Stat(d.path); errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("model checkpoint %s not found: it is written by a training pipeline (vilbert_lmdb_train, vilbert_precomputed_train or the default pipeline)", d.path)
	}
	sc, err := checkpoint.ReadSidecar(side)
	if err != nil {
		return nil, fmt.Errorf("model checkpoint %s: %w", d.path, err)
	}
	sd, _, err := checkpoint.LoadSafetensors(d.path)
	if err != nil {
		return nil, fmt.Errorf("model checkpoint: %w", err)
	}
	return TrainedModel{Weights: sd, Sidecar: sc}, nil
}

func (d *checkpointDataset) Save(_ context.Context, v any) error {
	tm, ok := v.(TrainedModel)
	if !ok {
		return fmt.Errorf("model checkpoint %s: cannot save %T", d.path, v)
	}
	if err := checkpoint.SaveSafetensors(d.path, tm.Weights, map[string]string{"format": "pt", "model": tm.Sidecar.Model}); err != nil {
		return err
	}
	return checkpoint.WriteSidecar(checkpoint.SidecarPath(d.path), tm.Sidecar)
}

func (d *checkpointDataset) Exists() (bool, error) {
	for _, p := range []string{d.path, checkpoint.SidecarPath(d.path)} {
		if _, err := os.Stat(p); errors.Is(err, os.ErrNotExist) {
			return false, nil
		} else if err != nil {
			return false, err
		}
	}
	return true, nil
}

func (d *checkpointDataset) Describe() string { return "model_checkpoint " + d.path }
