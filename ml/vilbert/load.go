package vilbert

import (
	"fmt"
	"slices"
	"sort"
	"strings"

	"mmc/ml/checkpoint"
)

// Checkpoint kinds recognised by LoadStateDict.
const (
	// KindMMF is an MMF fine-tuned checkpoint (model.bert.* +
	// model.classifier.*), trained on regions as MMF reads them.
	KindMMF = "mmf"
	// KindPretrained is a ViLBERT pretraining checkpoint without a
	// classifier: vilbert-multi-task's layout (bert.* with the cls.*
	// heads; the Conceptual Captions weights, pretrained with the VMT
	// mean region) or MMF's zoo copy (model.bert.*, model.cls.*; MMF
	// fine-tunes it on its own regions).
	KindPretrained = "pretrained"
	// KindBERT is a text-only BERT (Hugging Face bert-base-uncased).
	KindBERT = "bert"
)

// LoadOptions tunes LoadStateDict.
type LoadOptions struct {
	// SkipClassifier leaves the head as initialised even when the
	// checkpoint has one (MMF's pretrained_state_mapping copies only
	// model.bert when fine-tuning from another checkpoint).
	SkipClassifier bool
}

// LoadReport says what LoadStateDict did. Key lists are sorted.
type LoadReport struct {
	Kind       string   // KindMMF, KindPretrained or KindBERT
	Convention string   // region convention the checkpoint was trained with ("" for text-only BERT)
	Loaded     []string // model keys set from the checkpoint
	// Initialised are model keys the kind of checkpoint does not carry
	// (a pretraining checkpoint's classifier, BERT's visual stream): they
	// keep their fresh N(0, initializer_range) initialisation.
	Initialised []string
	// Missing are model keys the checkpoint should have had but lacks.
	Missing []string
	// Unexpected are checkpoint keys (as written in the file) with no
	// place in the model.
	Unexpected []string
	// Ignored are checkpoint keys skipped by design: pretraining heads
	// (cls.*), BERT's own tanh pooler, position_ids buffers, and the
	// classifier under SkipClassifier.
	Ignored []string
}

// Complete reports whether every model parameter came from the checkpoint
// and every checkpoint tensor was used or deliberately ignored.
func (r *LoadReport) Complete() bool {
	return len(r.Missing) == 0 && len(r.Unexpected) == 0 && len(r.Initialised) == 0
}

// String summarises the report in one line.
func (r *LoadReport) String() string {
	return fmt.Sprintf("%s checkpoint: %d loaded, %d initialised, %d missing, %d unexpected, %d ignored",
		r.Kind, len(r.Loaded), len(r.Initialised), len(r.Missing), len(r.Unexpected), len(r.Ignored))
}

// canonicalKey maps a checkpoint key to the model's key layout ("bert.*",
// "classifier.*"). ignore is true for tensors that are skipped by design.
func canonicalKey(key string) (name string, ignore bool) {
	k := key
	for strings.HasPrefix(k, "module.") { // DataParallel
		k = strings.TrimPrefix(k, "module.")
	}
	for _, p := range []struct{ from, to string }{
		{"model.bert.", "bert."}, {"bert.bert.", "bert."}, {"model.classifier.", "classifier."},
		{"bert.classifier.", "classifier."}, {"model.cls.", "cls."}, {"bert.cls.", "cls."},
		// transformers4vl-vilbert's wrapper names the base "vilbert";
		// the original project's loader strips that prefix.
		{"vilbert.", "bert."},
	} {
		if strings.HasPrefix(k, p.from) {
			k = p.to + strings.TrimPrefix(k, p.from)
			break
		}
	}
	// A bare BertModel (Hugging Face layout without the "bert." prefix).
	for _, p := range []string{"embeddings.", "encoder.", "pooler."} {
		if strings.HasPrefix(k, p) {
			k = "bert." + k
		}
	}
	// Old BERT checkpoints name LayerNorm parameters gamma and beta.
	if strings.HasSuffix(k, ".gamma") {
		k = strings.TrimSuffix(k, ".gamma") + ".weight"
	} else if strings.HasSuffix(k, ".beta") {
		k = strings.TrimSuffix(k, ".beta") + ".bias"
	}
	switch {
	case strings.HasPrefix(k, "cls."), strings.HasPrefix(k, "bert.pooler."),
		strings.HasSuffix(k, "position_ids"):
		return k, true
	}
	return k, false
}

// isUnused reports parameters that exist in MMF's module but never take
// part in the forward pass; a checkpoint may lack them without harm.
func isUnused(key string) bool {
	return strings.Contains(key, ".biOutput.q_dense")
}

// LoadStateDict copies the tensors of sd into the model by key. It
// accepts MMF fine-tuned checkpoints ("model.bert.*", "model.classifier.*"),
// pretraining checkpoints ("bert.*" with "cls.*" heads, or
// "bert.bert.*"), a "module." prefix, Hugging Face BERT layouts into the
// text stream, and gamma/beta LayerNorm names. A shape mismatch is an
// error naming the key and both shapes, and nothing is copied then.
func (m *Model) LoadStateDict(sd checkpoint.StateDict, opts LoadOptions) (*LoadReport, error) {
	idx := m.paramIndex()
	rep := &LoadReport{}
	type assignment struct {
		name string
		src  *checkpoint.Array
	}
	var pending []assignment
	seen := map[string]string{}
	hasModelPrefix, hasVisual, hasClassifier := false, false, false
	for _, key := range sd.Keys() {
		arr := sd[key]
		name, ignore := canonicalKey(key)
		if strings.HasPrefix(strings.TrimPrefix(key, "module."), "model.") {
			hasModelPrefix = true
		}
		if ignore || (opts.SkipClassifier && strings.HasPrefix(name, "classifier.")) {
			rep.Ignored = append(rep.Ignored, key)
			continue
		}
		p, ok := idx[name]
		if !ok {
			rep.Unexpected = append(rep.Unexpected, key)
			continue
		}
		if prev, dup := seen[name]; dup {
			return nil, fmt.Errorf("vilbert: checkpoint keys %q and %q both map to %q", prev, key, name)
		}
		seen[name] = key
		if err := arr.Check(key); err != nil {
			return nil, fmt.Errorf("vilbert: %w", err)
		}
		if !slices.Equal(arr.Shape, p.Shape) {
			return nil, fmt.Errorf("vilbert: checkpoint tensor %q (model key %q) has shape %s, the model wants %s",
				key, name, shapeString(arr.Shape), shapeString(p.Shape))
		}
		if strings.HasPrefix(name, "bert.v_embeddings.") || strings.HasPrefix(name, "bert.encoder.c_layer.") {
			hasVisual = true
		}
		if strings.HasPrefix(name, "classifier.") {
			hasClassifier = true
		}
		pending = append(pending, assignment{name, arr})
	}
	for _, a := range pending {
		copy(idx[a.name].Data, a.src.Data)
		rep.Loaded = append(rep.Loaded, a.name)
	}

	switch {
	case !hasVisual:
		rep.Kind = KindBERT
	case hasClassifier:
		rep.Kind, rep.Convention = KindMMF, RegionsMMF
	case hasModelPrefix:
		// MMF's own zoo copy of the pretrained weights: MMF fine-tunes it
		// on regions as its reader gives them.
		rep.Kind, rep.Convention = KindPretrained, RegionsMMF
	default:
		rep.Kind, rep.Convention = KindPretrained, RegionsVMT
	}
	for name := range idx {
		if _, ok := seen[name]; ok {
			continue
		}
		text := strings.HasPrefix(name, "bert.embeddings.") || strings.HasPrefix(name, "bert.encoder.layer.")
		switch {
		case isUnused(name):
			// never read by the forward pass; not worth a report line
		case strings.HasPrefix(name, "classifier.") && (rep.Kind != KindMMF || opts.SkipClassifier):
			rep.Initialised = append(rep.Initialised, name)
		case rep.Kind == KindBERT && !text:
			rep.Initialised = append(rep.Initialised, name)
		default:
			rep.Missing = append(rep.Missing, name)
		}
	}
	for _, l := range [][]string{rep.Loaded, rep.Initialised, rep.Missing, rep.Unexpected, rep.Ignored} {
		sort.Strings(l)
	}
	if m.Config.RegionConvention == "" && rep.Convention != "" {
		m.Convention = rep.Convention
	}
	return rep, nil
}

// StateDict returns the parameters in MMF's fine-tuned layout
// ("model.bert.*", "model.classifier.*"). The arrays share memory with
// the model.
func (m *Model) StateDict() checkpoint.StateDict {
	sd := checkpoint.StateDict{}
	for _, p := range m.Parameters() {
		sd["model."+p.Name] = &checkpoint.Array{Shape: append([]int(nil), p.Tensor.Shape...), Data: p.Tensor.Data}
	}
	return sd
}
