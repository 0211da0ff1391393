// Package models is the model registry: every classifier kind the
// pipelines can train, evaluate and reload, and how each is built from
// its parameters and loaded from a state dict.
//
// A kind is registered by being a field of Params: the field's yaml key
// ("vilbert", "text_bert", "pooled_linear") is the kind's name, its type
// holds the kind's parameters (decoded strictly from model.<kind> in
// parameters.yml) and implements Kind. Adding a model kind is therefore
// one new file (the parameter type and its Kind methods, beside the model
// code) plus one line in Params; nothing else switches on the kind.
//
// Image backbones are not model kinds: they produce region features and
// are registered as extractors (see package features/extract).
package models

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"

	"mmc/ml/checkpoint"
	"mmc/ml/checkpoint/pytorch"
	"mmc/ml/train"
)

// Names of the registered kinds, for code that needs one in particular
// (the pretraining heads exist only for ViLBERT).
const (
	KindPooledLinear = "pooled_linear"
	KindViLBERT      = "vilbert"
	KindTextBERT     = "text_bert"
)

// Params selects and sizes the classifier (…→ model in parameters.yml).
// Every field whose type implements Kind is a registered model kind.
type Params struct {
	// Kind names the architecture: the yaml key of one of the fields below.
	Kind string `yaml:"kind" json:"kind"`
	// PooledLinear is logistic regression on pooled region features and a
	// hashed bag of words; with one modality off, a unimodal baseline.
	PooledLinear PooledLinearParams `yaml:"pooled_linear" json:"pooled_linear"`
	// ViLBERT is ml/vilbert's two-stream model with its heads and variants.
	ViLBERT ViLBERTParams `yaml:"vilbert" json:"vilbert"`
	// TextBERT is BERT on the caption alone (the paper's Text BERT baseline).
	TextBERT TextBERTConfig `yaml:"text_bert" json:"text_bert"`
	// InitWeights is a checkpoint to start from (the Conceptual Captions
	// weights, a synthetic pretraining run, bert-base-uncased); the
	// classifier is freshly initialised. Empty or "none" trains from
	// scratch; what a missing file means depends on the kind (Info).
	InitWeights string `yaml:"init_weights" json:"init_weights"`
	// FeatDim is the region feature width, filled from the data at
	// training time.
	FeatDim int `yaml:"-" json:"feat_dim"`
	// Extractor is the image feature extractor the training features
	// came from, as their store recorded it (nil for stores without
	// provenance), so inference can run it on a new image.
	Extractor *ExtractorRecord `yaml:"-" json:"extractor,omitempty"`
}

// ExtractorRecord names an image feature extractor and its parameters
// (features/extract's Params.Provenance).
type ExtractorRecord struct {
	Name   string         `json:"name"`
	Params map[string]any `json:"params"`
}

// Kind is one model kind's parameters: it builds the model they
// describe and loads weights into it.
type Kind interface {
	// Info describes the kind.
	Info() Info
	// New builds a fresh model initialised from seed; featDim is the
	// region feature width of the data (0 when no store is wired in).
	New(featDim int, seed uint64) (train.Model, error)
	// LoadPretrained copies a pretrained checkpoint (init_weights) into
	// a model New built, leaving the classifier as initialised, and
	// returns a one-line report.
	LoadPretrained(m train.Model, sd checkpoint.StateDict) (string, error)
	// LoadTrained copies a checkpoint this kind saved (or a compatible
	// one, such as MMF's for ViLBERT) into a model New built. Every
	// model parameter must be present with its shape.
	LoadTrained(m train.Model, sd checkpoint.StateDict) (LoadReport, error)
}

// Info is what a pipeline needs to know about a kind before building it.
type Info struct {
	Doc    string
	Inputs Inputs
	// ScratchWithoutInit makes a missing init_weights file a notice
	// ("training from scratch") instead of an error.
	ScratchWithoutInit bool
	// InitSources says where an init_weights file comes from, for messages.
	InitSources string
}

// Inputs says which parts of a batch a model reads.
type Inputs struct {
	Text    bool // caption tokens
	Regions bool // region features: the pipeline must wire in a feature store
}

// LoadReport says what a trained checkpoint held beyond the model.
type LoadReport struct {
	Loaded int
	// Extra are checkpoint tensors the model has no place for, sorted.
	Extra []string
}

// Lookup returns the registered kind called name.
func (p Params) Lookup(name string) (Kind, error) {
	v := reflect.ValueOf(p)
	for i := range v.NumField() {
		k, ok := v.Field(i).Interface().(Kind)
		if ok && fieldName(v.Type().Field(i)) == name {
			return k, nil
		}
	}
	return nil, fmt.Errorf("model kind %q unknown (want one of %s)", name, strings.Join(Kinds(), ", "))
}

// Selected returns the kind p.Kind names, with p's parameters.
func (p Params) Selected() (Kind, error) { return p.Lookup(p.Kind) }

// Kinds lists the registered kind names in declaration order.
func Kinds() []string {
	t := reflect.TypeFor[Params]()
	kind := reflect.TypeFor[Kind]()
	var names []string
	for i := range t.NumField() {
		if t.Field(i).Type.Implements(kind) {
			names = append(names, fieldName(t.Field(i)))
		}
	}
	return names
}

func fieldName(f reflect.StructField) string {
	name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
	return name
}

// Build constructs the model p describes, initialised from seed.
func Build(p Params, seed uint64) (train.Model, error) {
	k, err := p.Selected()
	if err != nil {
		return nil, err
	}
	return k.New(p.FeatDim, seed)
}

// NoInitWeights is the init_weights value that trains from scratch on
// purpose (as does an empty one).
const NoInitWeights = "none"

// Initialise loads p.InitWeights into m, a model Build made from p, and
// returns a one-line report of what was loaded ("" when there is
// nothing to load). A missing file is an error unless the kind trains
// from scratch without one (then the report says so).
func Initialise(m train.Model, p Params) (string, error) {
	if p.InitWeights == "" || p.InitWeights == NoInitWeights {
		return "", nil
	}
	k, err := p.Selected()
	if err != nil {
		return "", err
	}
	info := k.Info()
	if _, err := os.Stat(p.InitWeights); errors.Is(err, os.ErrNotExist) {
		if info.ScratchWithoutInit {
			return fmt.Sprintf("init_weights %s not found: training from scratch (%s)", p.InitWeights, info.InitSources), nil
		}
		return "", CheckInitWeights(p)
	}
	sd, err := ReadWeights(p.InitWeights)
	if err != nil {
		return "", err
	}
	msg, err := k.LoadPretrained(m, sd)
	if err != nil {
		return "", fmt.Errorf("init_weights %s: %w", p.InitWeights, err)
	}
	return fmt.Sprintf("init_weights %s: %s", p.InitWeights, msg), nil
}

// ReadWeights reads a weights file by its extension: safetensors, or a
// torch.save file (.bin, .pth, .pt) whose configs and optimizer objects
// are kept as inert data.
func ReadWeights(path string) (checkpoint.StateDict, error) {
	switch strings.ToLower(filepath.Ext(path)) {
	case ".safetensors":
		sd, _, err := checkpoint.LoadSafetensors(path)
		return sd, err
	case ".bin", ".pth", ".pt":
		return pytorch.Load(path, &pytorch.Options{Lenient: true})
	}
	return nil, fmt.Errorf("weights %s: unsupported file type (want .safetensors, .bin, .pth or .pt)", path)
}

// Trained is a model's weights with the sidecar describing them; the
// sidecar's Config is the Params that rebuild the model.
type Trained struct {
	Weights checkpoint.StateDict
	Sidecar checkpoint.Sidecar
}

// Params decodes the sidecar's model description.
func (t Trained) Params() (Params, error) {
	var p Params
	if len(t.Sidecar.Config) == 0 {
		return p, fmt.Errorf("checkpoint sidecar (model %q) has no config to rebuild the model from", t.Sidecar.Model)
	}
	if err := json.Unmarshal(t.Sidecar.Config, &p); err != nil {
		return p, fmt.Errorf("checkpoint sidecar config: %w", err)
	}
	return p, nil
}

// Load rebuilds a trained checkpoint's model and loads its weights.
// Every model parameter must be present with its shape; tensors the
// model has no place for are listed in the report, and are an error
// when strict.
func Load(t Trained, strict bool) (train.Model, Params, LoadReport, error) {
	p, err := t.Params()
	if err != nil {
		return nil, p, LoadReport{}, err
	}
	k, err := p.Selected()
	if err != nil {
		return nil, p, LoadReport{}, fmt.Errorf("checkpoint sidecar: %w", err)
	}
	m, err := k.New(p.FeatDim, 0)
	if err != nil {
		return nil, p, LoadReport{}, fmt.Errorf("checkpoint sidecar config of a %s model: %w", p.Kind, err)
	}
	rep, err := k.LoadTrained(m, t.Weights)
	if err != nil {
		return nil, p, rep, fmt.Errorf("load %s weights: %w", p.Kind, err)
	}
	if strict && len(rep.Extra) > 0 {
		return nil, p, rep, fmt.Errorf("load %s weights: %d tensors have no place in the model (strict): %s", p.Kind, len(rep.Extra), quoteList(rep.Extra, 10))
	}
	return m, p, rep, nil
}

// Warning is a one-line note about the report's extra tensors ("" when
// there are none).
func (r LoadReport) Warning() string {
	if len(r.Extra) == 0 {
		return ""
	}
	return fmt.Sprintf("%d checkpoint tensors have no place in the model and were ignored: %s", len(r.Extra), quoteList(r.Extra, 10))
}

// loadParams copies sd into params by name: a missing parameter or a
// shape mismatch is an error naming it; keys of sd no parameter uses
// are returned as Extra.
func loadParams(params []train.Param, sd checkpoint.StateDict) (LoadReport, error) {
	used := make(map[string]bool, len(params))
	var missing []string
	for _, p := range params {
		a, ok := sd[p.Name]
		if !ok {
			missing = append(missing, p.Name)
			continue
		}
		if !slices.Equal(a.Shape, p.Tensor.Shape) || len(a.Data) != len(p.Tensor.Data) {
			return LoadReport{}, fmt.Errorf("parameter %q: saved shape %v, model shape %v", p.Name, a.Shape, p.Tensor.Shape)
		}
		used[p.Name] = true
	}
	if len(missing) > 0 {
		return LoadReport{}, fmt.Errorf("%d parameters missing from the saved weights: %s", len(missing), quoteList(missing, 10))
	}
	for _, p := range params {
		copy(p.Tensor.Data, sd[p.Name].Data)
	}
	rep := LoadReport{Loaded: len(params)}
	for k := range sd {
		if !used[k] {
			rep.Extra = append(rep.Extra, k)
		}
	}
	slices.Sort(rep.Extra)
	return rep, nil
}

// quoteList quotes up to n names and says how many more there are.
func quoteList(names []string, n int) string {
	var b strings.Builder
	for i, s := range names {
		if i == n {
			fmt.Fprintf(&b, " and %d more", len(names)-n)
			break
		}
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "%q", s)
	}
	return b.String()
}

// CheckInitWeights fails when p names an init_weights file that does
// not exist and the kind cannot train from scratch without it: the
// error Initialise would give, early, before any work.
func CheckInitWeights(p Params) error {
	if p.InitWeights == "" || p.InitWeights == NoInitWeights {
		return nil
	}
	k, err := p.Selected()
	if err != nil {
		return err
	}
	info := k.Info()
	if _, err := os.Stat(p.InitWeights); errors.Is(err, os.ErrNotExist) && !info.ScratchWithoutInit {
		return fmt.Errorf("init_weights %s not found (%s), or set %s.init_weights: %s to train from scratch", p.InitWeights, info.InitSources, p.Kind, NoInitWeights)
	}
	return nil
}
