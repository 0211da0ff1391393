package vision

import (
	"image"
	"image/color"
	"math"
	"testing"

	"mmc/ml/kernels"
)

func TestPreprocessMatchesTorchvision(t *testing.T) {
	short := Preprocess{Resize: 48, Crop: 40, Filter: kernels.PILBilinear, Mean: ImageNetMean, Std: ImageNetStd}
	square := Preprocess{Square: true, Crop: 56, Filter: kernels.PILBicubic, Mean: ImageNetMean, Std: ImageNetStd}
	for _, tc := range []struct {
		file string
		// JPEG: the project's decoder (memes) and libjpeg differ by up to 3
		// levels per channel; after normalisation that is 3/255/0.225.
		maxDiff, meanDiff float64
	}{
		{"meme.png", 1e-6, 1e-7},
		{"meme.jpg", 3.0 / 255 / 0.225, 0.2 / 255 / 0.225},
	} {
		img := testImage(t, tc.file)
		ext := tc.file[len(tc.file)-3:]
		for name, p := range map[string]Preprocess{"short": short, "square": square} {
			w, h := p.OutSize(img.Bounds().Dx(), img.Bounds().Dy())
			got := make([]float32, 3*w*h)
			f, err := p.Apply(img, got)
			if err != nil {
				t.Fatal(err)
			}
			exp := want(t, "pre."+ext+"."+name)
			if exp.Shape[1] != h || exp.Shape[2] != w {
				t.Fatalf("%s %s: %d×%d, torchvision %v", tc.file, name, w, h, exp.Shape)
			}
			var worst, sum float64
			for i := range got {
				d := math.Abs(float64(got[i] - exp.Data[i]))
				worst = max(worst, d)
				sum += d
			}
			if worst > tc.maxDiff || sum/float64(len(got)) > tc.meanDiff {
				t.Errorf("%s %s: max difference %.3g (limit %.3g), mean %.3g (limit %.3g)", tc.file, name, worst, tc.maxDiff, sum/float64(len(got)), tc.meanDiff)
			}
			if name == "short" {
				// 90×70 → 61×48 (int(48·90/70)), crop 40 at left round(10.5) = 10, top 4
				if f.OffX != 10 || f.OffY != 4 || f.W != 40 {
					t.Errorf("frame %+v", f)
				}
			}
		}
	}
}

func TestPreprocessDropsAlphaAndChecks(t *testing.T) {
	// a non-RGBA image type goes through the generic path; alpha is
	// dropped, not composited (PIL's convert("RGB"))
	img := image.NewNRGBA(image.Rect(0, 0, 4, 4))
	for i := range 16 {
		img.Set(i%4, i/4, color.NRGBA{200, 100, 50, 10})
	}
	p := Preprocess{Crop: 0, Mean: [3]float32{}, Std: [3]float32{1, 1, 1}}
	out := make([]float32, 3*16)
	if _, err := p.Apply(img, out); err != nil {
		t.Fatal(err)
	}
	if out[0] != 200.0/255 || out[16] != 100.0/255 || out[32] != 50.0/255 {
		t.Errorf("pixel = %v %v %v", out[0], out[16], out[32])
	}
	if _, err := (Preprocess{Resize: 8, Crop: 20}).Apply(img, make([]float32, 3*400)); err == nil {
		t.Error("crop larger than the image accepted")
	}
	if _, err := (Preprocess{Square: true}).Apply(img, out); err == nil {
		t.Error("square resize without a size accepted")
	}
}
