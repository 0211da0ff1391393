package vision

import (
	"context"
	"image"
	"testing"
)

// BenchmarkViTL14Block is two ViT-L/14 blocks (width 1024, 16 heads) on
// a 518×518 image: 1370 tokens.
func BenchmarkViTL14Block(b *testing.B) {
	v, err := LoadViT(RandomViTStateDict(1024, 2, 14, 37, 0, 1))
	if err != nil {
		b.Fatal(err)
	}
	x := make([]float32, 3*518*518)
	var ws ViTWorkspace
	for b.Loop() {
		if _, err := v.Forward(&ws, x, 518, 518, []int{2}, false); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkResNet152Base is the resnet152_roi base (stem + layer1–3) on
// a 600×600 image.
func BenchmarkResNet152Base(b *testing.B) {
	r, err := LoadResNet(RandomResNetStateDict(ResNetArch{Layers: [4]int{3, 8, 36, 3}, Bottleneck: true, Width: 64}, 1), Torchvision)
	if err != nil {
		b.Fatal(err)
	}
	x := make([]float32, 3*600*600)
	var ws Workspace
	for b.Loop() {
		r.Forward(&ws, x, Shape{1, 3, 600, 600}, 0, 3)
	}
}

// BenchmarkExtractGridSmall is resnet152_grid end to end on a demo-size
// ResNet.
func BenchmarkExtractGridSmall(b *testing.B) {
	e, err := RandomResNetGrid("resnet152_grid", DemoResNetArch, GridParams{}, 1)
	if err != nil {
		b.Fatal(err)
	}
	img := image.NewRGBA(image.Rect(0, 0, 500, 400))
	for i := range img.Pix {
		img.Pix[i] = uint8(i)
	}
	for b.Loop() {
		if _, err := e.Extract(context.Background(), []image.Image{img}); err != nil {
			b.Fatal(err)
		}
	}
}
