package main

import (
	"bytes"
	"context"
	"encoding/json"
	"image"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"mmc/cli"
)

// withStderr runs f with os.Stderr sent to a file (nodes print there)
// and returns what was written.
func withStderr(t *testing.T, f func()) string {
	t.Helper()
	tmp, err := os.CreateTemp(t.TempDir(), "stderr")
	if err != nil {
		t.Fatal(err)
	}
	old := os.Stderr
	os.Stderr = tmp
	defer func() { os.Stderr = old }()
	f()
	b, _ := os.ReadFile(tmp.Name())
	return string(b)
}

// TestDataProcessingReportsAndStrictFails is issue 16 item 10 end to end:
// `run --pipeline=data_processing` on a set with a train meme without a
// label prints the problem and writes ok: false (exit 0);
// --params data_processing.strict=true makes the run fail.
func TestDataProcessingReportsAndStrictFails(t *testing.T) {
	root := t.TempDir()
	data, conf := filepath.Join(root, "data"), filepath.Join(root, "conf")
	os.MkdirAll(filepath.Join(data, "img"), 0o755)
	os.MkdirAll(filepath.Join(conf, "base"), 0o755)
	os.WriteFile(filepath.Join(data, "train.jsonl"), []byte(
		`{"id": 1, "img": "img/1.png", "text": "a", "label": 0}`+"\n"+
			`{"id": 2, "img": "img/1.png", "text": "b"}`+"\n"), 0o644)
	os.WriteFile(filepath.Join(data, "img", "1.png"), tinyPNG(t), 0o644)
	report := filepath.Join(root, "out", "data_report.json")
	os.WriteFile(filepath.Join(conf, "base", "catalog.yml"), []byte(
		"raw_memes: {type: meme_folder, filepath: "+data+"}\n"+
			"data_report: {type: json, filepath: "+report+"}\n"+
			"data_report_chart: {type: png, filepath: "+filepath.Join(root, "out", "chart.png")+"}\n"), 0o644)
	os.WriteFile(filepath.Join(conf, "base", "parameters.yml"), []byte(
		"data_processing: {decode_images: true, workers: 1, strict: false}\n"), 0o644)

	run := func(extra ...string) (int, string) {
		var out, errb bytes.Buffer
		app := &cli.App{Registry: newRegistry(), Stdout: &out, Stderr: &errb}
		code := 0
		printed := withStderr(t, func() {
			code = app.Main(context.Background(), append([]string{"run", "--pipeline=data_processing", "--conf-source", conf}, extra...))
		})
		return code, printed + errb.String() + out.String()
	}
	code, out := run()
	if code != 0 || !strings.Contains(out, "1 problem in "+data) || !strings.Contains(out, "train: 1 meme without a label, in a labelled split: 2") {
		t.Fatalf("exit %d, output:\n%s", code, out)
	}
	var rep struct {
		OK       bool `json:"ok"`
		Problems int  `json:"problems"`
	}
	b, err := os.ReadFile(report)
	if err != nil || json.Unmarshal(b, &rep) != nil || rep.OK || rep.Problems != 1 {
		t.Fatalf("report %s: %v %+v", report, err, rep)
	}
	os.Remove(report)
	code, out = run("--params", "data_processing.strict=true")
	if code == 0 || !strings.Contains(out, "data_processing.strict is true") {
		t.Fatalf("strict: exit %d, output:\n%s", code, out)
	}
	if _, err := os.Stat(report); !os.IsNotExist(err) {
		t.Errorf("a failed strict run wrote the report: %v", err)
	}
}

// tinyPNG is a 2×2 grey PNG.
func tinyPNG(t *testing.T) []byte {
	var buf bytes.Buffer
	if err := png.Encode(&buf, image.NewGray(image.Rect(0, 0, 2, 2))); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}
