package viz

import (
	"encoding/json"
	"net/http/httptest"
	"os/exec"
	"slices"
	"strings"
	"testing"
)

// TestPageScript runs the embedded app.js under Node with a stand-in DOM
// (testdata/pagecheck.js) against a live server and checks what a user
// would see: the drawing, the details panel, the tag filter, the
// parameter toggle and zoom. Without Node the test is skipped.
func TestPageScript(t *testing.T) {
	node, err := exec.LookPath("node")
	if err != nil {
		t.Skip("node not installed; the page script is covered only by TestHandlerServesPageAndAPI")
	}
	h, err := Handler(sampleGraph())
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	defer srv.Close()
	out, err := exec.Command(node, "testdata/pagecheck.js", srv.URL+"/", "web/index.html", "web/app.js").CombinedOutput()
	if err != nil {
		t.Fatalf("node: %v\n%s", err, out)
	}
	var got struct {
		Crash, Error, Pipeline, Counts, PanelTitle, PanelText, Transform string
		MissingIDs                                                       []string `json:"missingIds"`
		Items, Edges, NearEdges, ItemsWithParams, DimmedWithTextTag      int
		Labels, Bands, PanelTerms, Selected, UndimmedWithTextTag, URLs   []string
		SearchKept, SliceKept                                            []string
		SliceCommand                                                     string
		PanelHidden, Zoomed, SliceReset                                  bool
		NamespacesShown, CollapsedIsBox, ExpandShown                     bool
		CollapsedItems, ExpandedItems                                    int
		NsPanelTitle, NsPanelText                                        string
	}
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatalf("pagecheck output: %v\n%s", err, out)
	}
	if got.Crash != "" || got.Error != "" {
		t.Fatalf("page failed: %s%s", got.Crash, got.Error)
	}
	if len(got.MissingIDs) > 0 {
		t.Errorf("app.js uses ids missing from index.html: %v", got.MissingIDs)
	}
	if got.Pipeline != "__default__" || got.Counts != "11 items, 12 edges" || got.Items != 11 || got.Edges != 12 {
		t.Errorf("drawing: pipeline %q counts %q items %d edges %d", got.Pipeline, got.Counts, got.Items, got.Edges)
	}
	if want := []string{"curve", "features.image", "features.text", "features.tokens", "generate", "history", "memes", "model", "regions", "report", "train"}; !slices.Equal(got.Labels, want) {
		t.Errorf("labels %v, want %v", got.Labels, want)
	}
	if !slices.Equal(got.Bands, []string{"raw", "feature", "models", "model_output", "reporting"}) {
		t.Errorf("bands %v", got.Bands)
	}
	if !strings.Contains(got.Transform, "scale(") {
		t.Errorf("fit-to-screen transform %q", got.Transform)
	}
	if got.PanelHidden || got.PanelTitle != "train" || !slices.Equal(got.Selected, []string{"train"}) || got.NearEdges != 5 {
		t.Errorf("click on train: panel hidden %v title %q selected %v near edges %d", got.PanelHidden, got.PanelTitle, got.Selected, got.NearEdges)
	}
	for _, term := range []string{"Function", "Source", "Inputs", "Outputs", "Parameters", "Run command"} {
		if !slices.Contains(got.PanelTerms, term) {
			t.Errorf("panel lacks %q: %v", term, got.PanelTerms)
		}
	}
	for _, text := range []string{"nodes/train.go:40", "mmc/nodes.Train", "features.tokens", `"lr": 0.00005`, "--nodes=train"} {
		if !strings.Contains(got.PanelText, text) {
			t.Errorf("panel text lacks %q: %s", text, got.PanelText)
		}
	}
	// Tag "text" keeps features.text and the data it touches.
	if want := []string{"features.text", "features.tokens", "memes"}; !slices.Equal(got.UndimmedWithTextTag, want) || got.DimmedWithTextTag != 8 {
		t.Errorf("tag filter kept %v (dimmed %d), want %v", got.UndimmedWithTextTag, got.DimmedWithTextTag, want)
	}
	if want := []string{"features.image", "features.text", "features.tokens"}; !slices.Equal(got.SearchKept, want) {
		t.Errorf("search kept %v, want %v", got.SearchKept, want)
	}
	if want := "go run . run --pipeline=__default__ --from-inputs=memes --to-outputs=history"; got.SliceCommand != want {
		t.Errorf("slice command %q, want %q", got.SliceCommand, want)
	}
	if want := []string{"features.image", "features.text", "features.tokens", "history", "memes", "regions", "train"}; !slices.Equal(got.SliceKept, want) {
		t.Errorf("slice kept %v, want %v", got.SliceKept, want)
	}
	if !got.SliceReset {
		t.Error("slice reset left items dimmed")
	}
	if got.ItemsWithParams != 15 {
		t.Errorf("with parameters: %d items, want 15", got.ItemsWithParams)
	}
	if len(got.URLs) == 0 || got.URLs[len(got.URLs)-1] != "?params=1" {
		t.Errorf("URL state %v", got.URLs)
	}
	// Collapsing features hides features.text and features.image (two
	// boxes become one) with parameters shown: 15 - 2 + 1.
	if !got.NamespacesShown || !got.CollapsedIsBox || got.CollapsedItems != 14 || got.ExpandedItems != 15 {
		t.Errorf("collapse: section %v box %v items %d then %d, want 14 then 15", got.NamespacesShown, got.CollapsedIsBox, got.CollapsedItems, got.ExpandedItems)
	}
	if got.NsPanelTitle != "features" || !got.ExpandShown || !strings.Contains(got.NsPanelText, "namespace (collapsed)") || !strings.Contains(got.NsPanelText, "regions") {
		t.Errorf("namespace panel %q %q expand %v", got.NsPanelTitle, got.NsPanelText, got.ExpandShown)
	}
	if !got.Zoomed {
		t.Error("wheel did not zoom")
	}
}
