package synth

import (
	"bytes"
	"image/png"
	"testing"
)

// BenchmarkRenderPNG measures drawing and encoding one default-size meme,
// paletted (what Write stores) against plain RGB encoding of the same
// picture.
func BenchmarkRenderPNG(b *testing.B) {
	set, err := Generate(smallParams())
	if err != nil {
		b.Fatal(err)
	}
	s, text := &set.Splits[0].Scenes[0], set.Splits[0].Memes[0].Text
	r := NewRenderer()
	enc := png.Encoder{CompressionLevel: png.BestSpeed, BufferPool: &oneBuffer{}}
	for _, bc := range []struct {
		name     string
		paletted bool
	}{{"paletted", true}, {"rgb", false}} {
		b.Run(bc.name, func(b *testing.B) {
			var buf bytes.Buffer
			for b.Loop() {
				img, err := r.Render(s, text)
				if err != nil {
					b.Fatal(err)
				}
				buf.Reset()
				if p, ok := toPaletted(img); ok && bc.paletted {
					err = enc.Encode(&buf, p)
				} else {
					err = enc.Encode(&buf, img)
				}
				if err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(buf.Len()), "bytes/png")
		})
	}
}

// BenchmarkDetector measures the synthetic detector on one default scene
// (2048-d features, 4 regions).
func BenchmarkDetector(b *testing.B) {
	p := DefaultParams()
	set, _ := Generate(smallParams())
	det, _ := NewDetector(p.Detector)
	s := &set.Splits[0].Scenes[0]
	for b.Loop() {
		if _, err := det.Features(s); err != nil {
			b.Fatal(err)
		}
	}
}
