package viz

import (
	"bytes"
	"encoding/xml"
	"io"
	"os"
	"strings"
	"testing"
)

func TestRenderSVGWellFormed(t *testing.T) {
	var buf bytes.Buffer
	g := sampleGraph()
	g.Nodes[0].Name = "gen<&>"
	if err := RenderSVG(&buf, g, LayoutOptions{}); err != nil {
		t.Fatal(err)
	}
	if path := os.Getenv("VIZ_SVG_OUT"); path != "" {
		os.WriteFile(path, buf.Bytes(), 0o644)
	}
	dec := xml.NewDecoder(bytes.NewReader(buf.Bytes()))
	counts := map[string]int{}
	texts := map[string]bool{}
	inText := false
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("SVG is not well-formed XML: %v", err)
		}
		switch tk := tok.(type) {
		case xml.StartElement:
			counts[tk.Name.Local]++
			inText = tk.Name.Local == "text"
		case xml.CharData:
			if inText {
				texts[string(tk)] = true
			}
		case xml.EndElement:
			inText = false
		}
	}
	// 16 edge paths plus the arrow head; 15 boxes, 5 bands, 1 background.
	if counts["path"] != 17 || counts["rect"] != 21 {
		t.Errorf("element counts %v", counts)
	}
	for _, want := range []string{"gen<&>", "params:train", "REPORTING", "features.tokens"} {
		if !texts[want] {
			t.Errorf("SVG lacks text %q", want)
		}
	}
	if !strings.Contains(buf.String(), `stroke-dasharray="4 3"`) {
		t.Error("in-memory dataset not dashed")
	}
}
