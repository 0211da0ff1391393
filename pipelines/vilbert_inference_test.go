package pipelines

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"mmc/catalog"
	"mmc/catalog/formats"
	"mmc/config"
	"mmc/flow"
	"mmc/internal/mmfcase"
	"mmc/ml/metrics"
)

// TestInferenceFromMMFCheckpoint runs vilbert_inference (and
// vilbert_validate on a labelled copy of the split) end to end with
// an MMF fine-tuned PyTorch checkpoint (nodes/testdata, written by
// scripts/fixtures/mmf_checkpoint.py) on an unlabelled split stored as a
// meme folder and an MMF detectron.lmdb, and checks the submission CSV
// against the probabilities torch computed for the same memes.
func TestInferenceFromMMFCheckpoint(t *testing.T) {
	fixtures := mmfcase.Dir()
	c, err := mmfcase.Read()
	if err != nil {
		t.Fatal(err)
	}

	work := t.TempDir()
	folder := filepath.Join(work, "memes")
	if err := os.MkdirAll(folder, 0o755); err != nil {
		t.Fatal(err)
	}
	// test_unseen is unlabelled; dev_seen holds the same memes labelled.
	labels := []int{1, 0, 0, 1}
	for _, split := range []string{"test_unseen", "dev_seen"} {
		f, err := os.Create(filepath.Join(folder, split+".jsonl"))
		if err != nil {
			t.Fatal(err)
		}
		enc := json.NewEncoder(f)
		for i, m := range c.Memes {
			if split == "dev_seen" {
				m.Label = &labels[i]
			}
			if err := enc.Encode(m); err != nil {
				t.Fatal(err)
			}
		}
		if err := f.Close(); err != nil {
			t.Fatal(err)
		}
	}

	local := `
raw_memes:
  type: meme_folder
  filepath: ` + folder + `
mmf_detectron_lmdb:
  type: lmdb_features
  filepath: ` + filepath.Join(work, "detectron.lmdb") + `
vilbert_inference.model:
  type: model_checkpoint
  filepath: ` + filepath.Join(fixtures, "mmf_tiny_finetuned.pth") + `
  load_args:
    vilbert_config: ` + filepath.Join(fixtures, "mmf_tiny_config.json") + `
vilbert_validate.model:
  type: model_checkpoint
  filepath: ` + filepath.Join(fixtures, "mmf_tiny_finetuned.pth") + `
  load_args:
    vilbert_config: ` + filepath.Join(fixtures, "mmf_tiny_config.json") + `
`
	cfg, err := config.Load(config.Options{ConfSource: copyConf(t, local), RuntimeParams: map[string]any{
		"vilbert_inference.evaluate.data.max_features":   int64(c.MaxFeatures),
		"vilbert_inference.evaluate.data.max_seq_length": int64(c.MaxSeqLength),
		"vilbert_inference.evaluate.batch_size":          int64(3),
		"vilbert_validate.evaluate.data.max_features":    int64(c.MaxFeatures),
		"vilbert_validate.evaluate.data.max_seq_length":  int64(c.MaxSeqLength),
		"vilbert_validate.evaluate.split":                "dev_seen",
		"inference_split":                                "test_unseen",
	}})
	if err != nil {
		t.Fatal(err)
	}
	t.Chdir(work)
	cat, err := catalog.New(cfg.Catalog, cfg.Parameters, catalog.Options{Formats: formats.All()})
	if err != nil {
		t.Fatal(err)
	}
	if err := cat.Save(context.Background(), "mmf_detectron_lmdb", c.FeatureRecords()); err != nil {
		t.Fatal(err)
	}
	for _, p := range []*flow.Pipeline{ViLBERTInference(), ViLBERTValidate()} {
		if err := flow.Check(p, cat); err != nil {
			t.Fatal(err)
		}
		if _, err := flow.Run(context.Background(), p, cat, flow.RunOptions{}); err != nil {
			t.Fatal(err)
		}
	}

	const out = "data/05_model_output/vilbert_inference/"
	cf, err := os.Open(out + "submission_test_unseen.csv")
	if err != nil {
		t.Fatal(err)
	}
	defer cf.Close()
	rows, err := csv.NewReader(cf).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != len(c.Memes)+1 || len(rows[0]) != 3 || rows[0][0] != "id" || rows[0][1] != "proba" || rows[0][2] != "label" {
		t.Fatalf("submission has %d rows, header %v; want id,proba,label and %d memes", len(rows), rows[0], len(c.Memes))
	}
	for i, r := range rows[1:] {
		if r[0] != string(c.Memes[i].ID) {
			t.Errorf("row %d is meme %s, want %s", i+1, r[0], c.Memes[i].ID)
		}
		p, err := strconv.ParseFloat(r[1], 64)
		if err != nil || p < 0 || p > 1 {
			t.Errorf("row %d: proba %q is not a probability (%v)", i+1, r[1], err)
			continue
		}
		if math.Abs(p-c.Proba[i]) > 1e-4 {
			t.Errorf("meme %s: proba %.6f, torch %.6f", r[0], p, c.Proba[i])
		}
		want := "0"
		if p > 0.5 {
			want = "1"
		}
		if r[2] != want {
			t.Errorf("meme %s: label %s with proba %v", r[0], r[2], p)
		}
	}
	var rep struct {
		Split    string `json:"split"`
		Memes    int    `json:"memes"`
		Labelled bool   `json:"labelled"`
	}
	readJSON(t, out+"inference_report.json", &rep)
	if rep.Split != "test_unseen" || rep.Labelled || rep.Memes != len(c.Memes) {
		t.Errorf("inference report %+v, want %d unlabelled test_unseen memes", rep, len(c.Memes))
	}

	// vilbert_validate on the labelled copy: the metrics of torch's
	// predictions.
	var got map[string]float64
	readJSON(t, "data/05_model_output/vilbert_validate/metrics.json", &got)
	auroc, err := metrics.AUROC(labels, c.Proba)
	if err != nil {
		t.Fatal(err)
	}
	var ce float64
	for i, l := range c.Logits {
		m := max(l[0], l[1])
		ce += m + math.Log(math.Exp(l[0]-m)+math.Exp(l[1]-m)) - l[labels[i]]
	}
	ce /= float64(len(c.Logits))
	if got["auroc"] != auroc || math.Abs(got["loss"]-ce) > 1e-4 {
		t.Errorf("vilbert_validate metrics %v; torch's predictions give AUROC %v, loss %.6f", got, auroc, ce)
	}
}
