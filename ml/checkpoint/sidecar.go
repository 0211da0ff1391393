package checkpoint

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"mmc/atomicfile"
)

// SidecarFormat names the sidecar layout version written by WriteSidecar.
const SidecarFormat = "mmc-checkpoint/1"

// Sidecar is the JSON file saved beside a safetensors checkpoint: what
// produced the weights and how far training had got.
type Sidecar struct {
	Format  string             `json:"format"`
	Model   string             `json:"model,omitempty"`
	Step    int                `json:"step"`
	Epoch   int                `json:"epoch,omitempty"`
	Config  json.RawMessage    `json:"config,omitempty"`
	Metrics map[string]float64 `json:"metrics,omitempty"`
	// Files names companion files (for example optimizer state) relative
	// to the sidecar's directory.
	Files map[string]string `json:"files,omitempty"`
}

// SidecarPath is the sidecar path for a weights file: "best.safetensors"
// gives "best.json".
func SidecarPath(weights string) string {
	return strings.TrimSuffix(weights, filepath.Ext(weights)) + ".json"
}

// WriteSidecar writes s as indented JSON, atomically. An empty Format is
// filled with SidecarFormat.
func WriteSidecar(path string, s Sidecar) error {
	if s.Format == "" {
		s.Format = SidecarFormat
	}
	data, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return fmt.Errorf("write sidecar %s: %w", path, err)
	}
	if err := atomicfile.WriteBytes(path, append(data, '\n')); err != nil {
		return fmt.Errorf("write sidecar %s: %w", path, err)
	}
	return nil
}

// ReadSidecar reads a sidecar, rejecting unknown fields and other formats.
func ReadSidecar(path string) (Sidecar, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return Sidecar{}, fmt.Errorf("read sidecar: %w", err)
	}
	var s Sidecar
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&s); err != nil {
		return Sidecar{}, fmt.Errorf("read sidecar %s: %w", path, err)
	}
	if s.Format != SidecarFormat {
		return Sidecar{}, fmt.Errorf("read sidecar %s: format %q, want %q", path, s.Format, SidecarFormat)
	}
	return s, nil
}
