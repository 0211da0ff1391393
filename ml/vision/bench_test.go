package vision

import (
	"context"
	"fmt"
	"image"
	"testing"

	"mmc/ml/kernels"
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

// BenchmarkResNet152Layer3Pair is layer3 of a ResNet-152 at 600×600
// (38×38 output) on one image per call and on two side by side, as
// resnet152_roi runs it (roiPair); ms/img compares the two.
func BenchmarkResNet152Layer3Pair(b *testing.B) {
	r, err := LoadResNet(RandomResNetStateDict(ResNetArch{Layers: [4]int{3, 8, 36, 3}, Bottleneck: true, Width: 64}, 1), Torchvision)
	if err != nil {
		b.Fatal(err)
	}
	for _, n := range []int{1, 2} {
		b.Run(fmt.Sprintf("images=%d", n), func(b *testing.B) {
			x := make([]float32, n*512*75*75)
			for i := range x {
				x[i] = float32(i%13) / 13
			}
			var ws Workspace
			for b.Loop() {
				r.Forward(&ws, x, Shape{n, 512, 75, 75}, 3, 3)
			}
			b.ReportMetric(b.Elapsed().Seconds()*1000/float64(b.N*n), "ms/img")
		})
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

// BenchmarkResNet152RoIHead is resnet152_roi's head on the 38×38 base of
// a 600×600 image: RoIAlign of 36 boxes then layer4, as written
// ("pool_first") and reordered (alignHead: layer4.0.conv1 before the
// pooling).
func BenchmarkResNet152RoIHead(b *testing.B) {
	e, err := RandomResNetRoI(ResNetArch{Layers: [4]int{1, 1, 1, 3}, Bottleneck: true, Width: 64}, RoIParams{}, 1)
	if err != nil {
		b.Fatal(err)
	}
	sh := Shape{1, 1024, 38, 38}
	base := make([]float32, sh.Len())
	for i := range base {
		base[i] = float32(i%17) / 17
	}
	st := &roiState{}
	nb, r := e.MaxRegions(), e.p.RoISize
	b.Run("pool_first", func(b *testing.B) {
		for b.Loop() {
			pooled := growTo(&st.pooled, nb*sh.C*r*r)
			kernels.RoIAlign(pooled, base, sh.C, sh.H, sh.W, e.boxes, r, r, roiScale, 0, true)
			batch := growTo(&st.batch, len(pooled))
			swapMajor(batch, pooled, nb, sh.C, r*r)
			e.net.Forward(&st.ws, batch, Shape{nb, sh.C, r, r}, 4, 4)
		}
	})
	b.Run("reordered", func(b *testing.B) {
		for b.Loop() {
			e.alignHead(st, base, sh)
		}
	})
}
