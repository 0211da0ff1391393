package main

import (
	"strings"
	"testing"

	"mmc/catalog"
	"mmc/catalog/formats"
	"mmc/config"
	"mmc/flow"
)

// TestRegistryNames checks every pipeline name the project promises is
// registered, built or not.
func TestRegistryNames(t *testing.T) {
	r := newRegistry()
	want := []string{"__default__", "synthetic_memes", "data_processing",
		"vilbert_lmdb_train", "vilbert_train", "vilbert_dinov2_train", "vilbert_dinov2_multilayer_train",
		"vilbert_frcnn_train", "vilbert_frcnn_resnet152_train", "vilbert_precomputed_train", "vilbert_vg_train",
		"vilbert_vg_rpn_train", "vilbert_resnet_vg_train", "vilbert_resnet152_grid_train", "vilbert_resnet152_roi_train",
		"vilbert_validate", "vilbert_inference", "vilbert_inference_local",
		"text_only_baseline", "image_only_baseline", "vilbert_pretrain"}
	for _, name := range want {
		if _, err := r.Entry(name); err != nil {
			t.Error(err)
		}
	}
}

// TestBuiltPipelinesValidate builds every built pipeline and checks it
// against the committed configuration (base, and the demo environment):
// structure, catalog entries, formats and strict parameter decoding. A
// not-built one must say what is missing.
func TestBuiltPipelinesValidate(t *testing.T) {
	r := newRegistry()
	for _, env := range []string{"base", "demo"} {
		cfg, err := config.Load(config.Options{ConfSource: "conf", Env: env})
		if err != nil {
			t.Fatalf("env %s: %v", env, err)
		}
		cat, err := catalog.New(cfg.Catalog, cfg.Parameters, catalog.Options{Formats: formats.All()})
		if err != nil {
			t.Fatalf("env %s: %v", env, err)
		}
		for _, name := range r.Names() {
			e, _ := r.Entry(name)
			p, err := r.Pipeline(name)
			if !e.Built() {
				if err == nil || !strings.Contains(err.Error(), "not built yet: ") || e.Missing == "" {
					t.Errorf("%s: not-built error %v", name, err)
				}
				continue
			}
			if err != nil {
				t.Errorf("%s: %v", name, err)
				continue
			}
			if err := flow.Check(p, cat); err != nil {
				t.Errorf("env %s, pipeline %s:\n%v", env, name, err)
			}
		}
	}
}
