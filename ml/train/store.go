package train

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"mmc/atomicfile"
	"mmc/ml/checkpoint"
)

// State is everything needed to continue training after an epoch.
type State struct {
	Meta      StateMeta
	Model     checkpoint.StateDict // weights at the end of the last epoch
	Optimizer checkpoint.StateDict // optimiser moments
	Best      checkpoint.StateDict // weights of the best epoch so far
}

// StateMeta is the JSON part of a State.
type StateMeta struct {
	Fingerprint   string            `json:"fingerprint"`
	EpochsDone    int               `json:"epochs_done"`
	Step          int               `json:"step"`
	SinceBest     int               `json:"epochs_since_best"`
	History       History           `json:"history"`
	OptimizerMeta map[string]string `json:"optimizer"`
}

// Store keeps the latest training State.
type Store interface {
	// Load returns the saved state, or (nil, nil) when there is none.
	Load() (*State, error)
	// Save replaces the saved state atomically.
	Save(*State) error
}

// DirStore keeps the state in a directory: state.json plus model,
// optimizer and best-epoch weights as safetensors files. The directory
// is rebuilt beside the old one and swapped in by rename, so a run killed
// while saving leaves the previous epoch's state intact.
type DirStore struct{ Dir string }

const (
	stateMetaFile = "state.json"
	stateModel    = "model.safetensors"
	stateOptim    = "optimizer.safetensors"
	stateBest     = "best.safetensors"
)

// Save writes st to the directory atomically.
func (d DirStore) Save(st *State) error {
	return atomicfile.WriteDir(d.Dir, func(tmp string) error {
		meta, err := json.MarshalIndent(st.Meta, "", "  ")
		if err != nil {
			return fmt.Errorf("encode state metadata: %w", err)
		}
		if err := os.WriteFile(filepath.Join(tmp, stateMetaFile), meta, 0o644); err != nil {
			return err
		}
		for _, f := range []struct {
			name string
			sd   checkpoint.StateDict
		}{{stateModel, st.Model}, {stateOptim, st.Optimizer}, {stateBest, st.Best}} {
			if err := checkpoint.SaveSafetensors(filepath.Join(tmp, f.name), f.sd, nil); err != nil {
				return err
			}
		}
		return nil
	})
}

// Load reads the directory; a missing directory is no state.
func (d DirStore) Load() (*State, error) {
	meta, err := os.ReadFile(filepath.Join(d.Dir, stateMetaFile))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	st := &State{}
	if err := json.Unmarshal(meta, &st.Meta); err != nil {
		return nil, fmt.Errorf("%s: %w", filepath.Join(d.Dir, stateMetaFile), err)
	}
	for _, f := range []struct {
		name string
		sd   *checkpoint.StateDict
	}{{stateModel, &st.Model}, {stateOptim, &st.Optimizer}, {stateBest, &st.Best}} {
		sd, _, err := checkpoint.LoadSafetensors(filepath.Join(d.Dir, f.name))
		if err != nil {
			return nil, err
		}
		*f.sd = sd
	}
	return st, nil
}
