package viz

import (
	"bytes"
	"context"
	"encoding/json"
	"html"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// The Mermaid output drawn by the Mermaid CLI (mmdc, from the npm package
// @mermaid-js/mermaid-cli), read back from its SVG as a person would look
// at it. mmdc is $MMDC or mmdc on PATH; it drives chromium ($VIZ_CHROMIUM
// or Debian's /usr/bin/chromium) through a generated puppeteer config,
// or the config in $MMDC_PUPPETEER_CONFIG. Without mmdc the test skips
// and says how to install it. The SVGs are left beside the browser tests'
// screenshots ($VIZ_SCREENSHOTS).

// mmdc returns the Mermaid CLI command and its puppeteer config file.
func mmdc(t *testing.T) (bin, config string) {
	t.Helper()
	if testing.Short() {
		t.Skip("mmdc test skipped in -short mode")
	}
	bin = os.Getenv("MMDC")
	if bin == "" {
		var err error
		if bin, err = exec.LookPath("mmdc"); err != nil {
			t.Skip("Mermaid CLI not found: set MMDC to its binary, e.g. after `cd /tmp/mmdc && PUPPETEER_SKIP_DOWNLOAD=1 npm install @mermaid-js/mermaid-cli`, MMDC=/tmp/mmdc/node_modules/.bin/mmdc (it uses Debian's chromium)")
		}
	}
	if config = os.Getenv("MMDC_PUPPETEER_CONFIG"); config != "" {
		return bin, config
	}
	chromium := os.Getenv("VIZ_CHROMIUM")
	if chromium == "" {
		chromium = chromiumPath
	}
	if _, err := os.Stat(chromium); err != nil {
		t.Skipf("mmdc needs chromium at %s (scripts/bootstrap.sh installs it; or set VIZ_CHROMIUM or MMDC_PUPPETEER_CONFIG): %v", chromium, err)
	}
	b, err := json.Marshal(map[string]any{
		"executablePath": chromium,
		"args": []string{"--no-sandbox", "--disable-gpu", "--disable-background-networking",
			"--disable-component-update", "--disable-sync", "--no-first-run", "--disable-dev-shm-usage"},
	})
	if err != nil {
		t.Fatal(err)
	}
	config = filepath.Join(t.TempDir(), "puppeteer.json")
	if err := os.WriteFile(config, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return bin, config
}

// renderMmdc draws g's Mermaid with mmdc and returns the SVG.
func renderMmdc(t *testing.T, bin, config string, g Graph) string {
	t.Helper()
	var src bytes.Buffer
	if err := RenderMermaid(&src, g); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	in, out := filepath.Join(dir, "graph.mmd"), filepath.Join(dir, "graph.svg")
	if err := os.WriteFile(in, src.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "-q", "-p", config, "-i", in, "-o", out)
	if msg, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("mmdc on %s: %v\n%s\n%s", g.Name, err, msg, src.String())
	}
	svg, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	keep := filepath.Join(screenshotDir(t), "mermaid_"+g.Name+".svg")
	if err := os.WriteFile(keep, svg, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("%s drawn by mmdc: %s", g.Name, keep)
	return string(svg)
}

// mainGraph reads a graph that `go run . viz --format json` printed.
func mainGraph(t *testing.T, path string) Graph {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var m MainResponse
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return graphFromMain(m)
}

type svgRect struct{ x0, y0, x1, y1 float64 }

func (r svgRect) overlaps(q svgRect) bool {
	return r.x0 < q.x1 && q.x0 < r.x1 && r.y0 < q.y1 && q.y0 < r.y1
}

// segmentHits says whether the segment a-b passes through r.
func segmentHits(ax, ay, bx, by float64, r svgRect) bool {
	// Sample the segment: the boxes are tens of pixels, steps are ≤ 2 px.
	n := int(max(abs(bx-ax), abs(by-ay))/2) + 1
	for i := 0; i <= n; i++ {
		f := float64(i) / float64(n)
		x, y := ax+f*(bx-ax), ay+f*(by-ay)
		if x > r.x0 && x < r.x1 && y > r.y0 && y < r.y1 {
			return true
		}
	}
	return false
}

func abs(v float64) float64 { return max(v, -v) }

var (
	svgNode  = regexp.MustCompile(`<g class="node default ([^"]*)" id="[^"]*-flowchart-([tdp]_[0-9a-f]{8})-\d+"[^>]*transform="translate\(([-0-9.e]+), ([-0-9.e]+)\)"`)
	svgLabel = regexp.MustCompile(`<g class="label"[^>]*transform="translate\(([-0-9.e]+), ([-0-9.e]+)\)"><rect/><foreignObject width="([0-9.e]+)" height="([0-9.e]+)"`)
	svgEdge  = regexp.MustCompile(`<path d="([^"]*)" id="[^"]*-L_([tdp]_[0-9a-f]{8})_([tdp]_[0-9a-f]{8})_\d+"`)
	svgNum   = regexp.MustCompile(`-?[0-9.]+(?:e-?[0-9]+)?`)
)

func TestMermaidRendersInMmdc(t *testing.T) {
	bin, config := mmdc(t)
	// The roi pipeline is all in one namespace; drawn by Mermaid's
	// default layout (dagre) an edge crossed its training-curves box.
	graphs := []Graph{sampleGraph(), defaultGraph(t), mainGraph(t, "testdata/roi_main.json")}
	graphs[0].Name = "sample"
	for _, g := range graphs {
		t.Run(g.Name, func(t *testing.T) {
			svg := renderMmdc(t, bin, config, g)
			r, err := resolve(g)
			if err != nil {
				t.Fatal(err)
			}
			type drawn struct {
				class string
				x, y  float64
				label svgRect
			}
			nodes := map[string]drawn{}
			locs := svgNode.FindAllStringSubmatchIndex(svg, -1)
			for i, loc := range locs {
				m := svgNode.FindStringSubmatch(svg[loc[0]:loc[1]])
				end := len(svg)
				if i+1 < len(locs) {
					end = locs[i+1][0]
				}
				chunk := svg[loc[1]:end]
				d := drawn{class: m[1]}
				d.x, _ = strconv.ParseFloat(m[3], 64)
				d.y, _ = strconv.ParseFloat(m[4], 64)
				if l := svgLabel.FindStringSubmatch(chunk); l != nil {
					var v [4]float64
					for k := range v {
						v[k], _ = strconv.ParseFloat(l[k+1], 64)
					}
					d.label = svgRect{d.x + v[0], d.y + v[1], d.x + v[0] + v[2], d.y + v[1] + v[3]}
				} else {
					t.Errorf("node %s has no label box", m[2])
				}
				// Every node shows its name, and a namespaced one its
				// namespace too.
				name, ns := r.textLabel(r.items[r.byID[m[2][2:]]])
				for _, text := range []string{name, ns} {
					if text != "" && !strings.Contains(chunk, ">"+html.EscapeString(text)+"<") {
						t.Errorf("node %s does not show %q", m[2], text)
					}
				}
				nodes[m[2]] = d
			}

			ids := map[string]string{}
			for _, it := range r.items {
				id := mermaidID(it)
				ids[id] = it.Name
				want := string(it.Kind)
				if it.Kind == KindData && r.dataset(it).InMemory {
					want = "memory"
				}
				d, ok := nodes[id]
				if !ok {
					t.Errorf("%s %q not drawn", it.Kind, it.Name)
					continue
				}
				if !strings.Contains(" "+d.class+" ", " "+want+" ") {
					t.Errorf("%s %q drawn with classes %q, want %s", it.Kind, it.Name, d.class, want)
				}
			}
			if len(nodes) != len(r.items) {
				t.Errorf("%d nodes drawn, want %d", len(nodes), len(r.items))
			}
			// In-memory data is dashed, persisted data is not.
			if !regexp.MustCompile(`\.memory&gt;\*\{[^}]*stroke-dasharray:4,3`).MatchString(svg) {
				t.Errorf("no dashed stroke rule for the memory class")
			}
			if regexp.MustCompile(`\.data&gt;\*\{[^}]*stroke-dasharray`).MatchString(svg) {
				t.Errorf("persisted data drawn dashed")
			}
			// Labels do not overlap one another.
			for a, da := range nodes {
				for b, db := range nodes {
					if a < b && da.label.overlaps(db.label) {
						t.Errorf("labels of %q and %q overlap", ids[a], ids[b])
					}
				}
			}
			// Every edge is drawn, points right, and passes through no
			// other node's label.
			edges := svgEdge.FindAllStringSubmatch(svg, -1)
			if len(edges) != len(r.edges) {
				t.Errorf("%d edges drawn, want %d", len(edges), len(r.edges))
			}
			for _, e := range edges {
				src, dst := nodes[e[2]], nodes[e[3]]
				if src.x >= dst.x {
					t.Errorf("edge %q -> %q points backwards (x %.0f -> %.0f)", ids[e[2]], ids[e[3]], src.x, dst.x)
				}
				var pts []float64
				for _, s := range svgNum.FindAllString(e[1], -1) {
					v, _ := strconv.ParseFloat(s, 64)
					pts = append(pts, v)
				}
				for id, d := range nodes {
					if id == e[2] || id == e[3] {
						continue
					}
					in := svgRect{d.label.x0 + 1, d.label.y0 + 1, d.label.x1 - 1, d.label.y1 - 1}
					for k := 0; k+3 < len(pts); k += 2 {
						if segmentHits(pts[k], pts[k+1], pts[k+2], pts[k+3], in) {
							t.Errorf("edge %q -> %q crosses the label of %q", ids[e[2]], ids[e[3]], ids[id])
							break
						}
					}
				}
			}
			// One drawn cluster per subgraph.
			var src bytes.Buffer
			if err := RenderMermaid(&src, g); err != nil {
				t.Fatal(err)
			}
			if want, got := strings.Count(src.String(), "\n  subgraph "), strings.Count(svg, `<g class="cluster"`); got != want {
				t.Errorf("%d clusters drawn, want %d", got, want)
			}
		})
	}
}
