package memes

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"hash/crc32"
	"image"
	"image/color"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

type imageFixture struct {
	Width   int    `json:"width"`
	Height  int    `json:"height"`
	PILMode string `json:"pil_mode"`
	Format  string `json:"format"`
}

// TestLoadImageMatchesPIL compares with PIL's Image.convert("RGB") pixels
// written by scripts/fixtures/data_layer.py. PNG decoding is lossless
// and must match exactly. JPEG IDCTs differ between libjpeg and Go, so
// JPEGs get a small bounded per-channel difference instead.
func TestLoadImageMatchesPIL(t *testing.T) {
	root := "testdata/images"
	raw, err := os.ReadFile(filepath.Join(root, "manifest.json"))
	if err != nil {
		t.Fatal(err)
	}
	var manifest map[string]imageFixture
	if err := json.Unmarshal(raw, &manifest); err != nil {
		t.Fatal(err)
	}
	// Only the IDCTs differ once chroma upsampling and colour conversion
	// follow libjpeg (see ycbcr.go); with Go's own conversion 4:2:0 was
	// off by up to 18, 4.8 on average.
	maxDiff := map[string]int{"jpeg444.jpg": 3, "jpeg_named.png": 3, "gray.jpg": 3, "jpeg420.jpg": 3, "jpeg422.jpg": 3, "jpeg420_big.jpg": 3}
	meanDiff := map[string]float64{"jpeg444.jpg": 0.2, "jpeg_named.png": 0.2, "gray.jpg": 0.2, "jpeg420.jpg": 0.2, "jpeg422.jpg": 0.2, "jpeg420_big.jpg": 0.2}
	for name, fx := range manifest {
		t.Run(name, func(t *testing.T) {
			want, err := os.ReadFile(filepath.Join(root, name+".rgb"))
			if err != nil {
				t.Fatal(err)
			}
			got, err := LoadImage(root, name)
			if err != nil {
				t.Fatal(err)
			}
			if got.Bounds() != image.Rect(0, 0, fx.Width, fx.Height) {
				t.Fatalf("bounds %v, want %dx%d", got.Bounds(), fx.Width, fx.Height)
			}
			worst, sum := 0, 0
			for i := 0; i < fx.Width*fx.Height; i++ {
				if got.Pix[4*i+3] != 255 {
					t.Fatalf("pixel %d: alpha %d, want 255", i, got.Pix[4*i+3])
				}
				for c := 0; c < 3; c++ {
					d := int(got.Pix[4*i+c]) - int(want[3*i+c])
					d = max(d, -d)
					worst = max(worst, d)
					sum += d
				}
			}
			mean := float64(sum) / float64(3*fx.Width*fx.Height)
			t.Logf("%s (PIL mode %s): max |Δ| %d, mean |Δ| %.3f", name, fx.PILMode, worst, mean)
			if worst > maxDiff[name] || mean > meanDiff[name] {
				t.Fatalf("max |Δ| %d (allowed %d), mean %.3f (allowed %.1f)", worst, maxDiff[name], mean, meanDiff[name])
			}
		})
	}
}

func TestToRGBFormats(t *testing.T) {
	r := image.Rect(2, 3, 5, 5) // non-zero origin: output must start at (0,0)
	nrgba := image.NewNRGBA(r)
	nrgba.SetNRGBA(2, 3, color.NRGBA{10, 20, 30, 0})
	rgba := image.NewRGBA(r)
	rgba.SetRGBA(2, 3, color.RGBA{40, 20, 10, 128}) // premultiplied: straight colour 79,39,19
	gray16 := image.NewGray16(r)
	gray16.SetGray16(2, 3, color.Gray16{0xABCD})
	pal := image.NewPaletted(r, color.Palette{color.NRGBA{1, 2, 3, 255}, color.NRGBA{200, 100, 50, 0}})
	pal.SetColorIndex(2, 3, 1)
	cmyk := image.NewCMYK(r)
	cmyk.SetCMYK(2, 3, color.CMYK{0, 255, 255, 0})
	tests := []struct {
		name string
		img  image.Image
		want [3]uint8
	}{
		{"NRGBA transparent keeps colour", nrgba, [3]uint8{10, 20, 30}},
		{"RGBA un-premultiplied", rgba, [3]uint8{79, 39, 19}},
		{"Gray16 high byte", gray16, [3]uint8{0xAB, 0xAB, 0xAB}},
		{"Paletted transparent entry", pal, [3]uint8{200, 100, 50}},
		{"CMYK", cmyk, [3]uint8{255, 0, 0}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := toRGB(tc.img)
			if got.Bounds() != image.Rect(0, 0, 3, 2) {
				t.Fatalf("bounds %v", got.Bounds())
			}
			p := got.Pix[:4]
			if [3]uint8{p[0], p[1], p[2]} != tc.want || p[3] != 255 {
				t.Fatalf("pixel %v, want %v + alpha 255", p, tc.want)
			}
		})
	}
}

func TestLoadImageErrors(t *testing.T) {
	root := t.TempDir()
	if err := os.MkdirAll(filepath.Join(root, "img"), 0o755); err != nil {
		t.Fatal(err)
	}
	var good bytes.Buffer
	if err := png.Encode(&good, image.NewGray(image.Rect(0, 0, 4, 4))); err != nil {
		t.Fatal(err)
	}
	write := func(name string, data []byte) {
		if err := os.WriteFile(filepath.Join(root, "img", name), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("00001.png", good.Bytes())
	write("00002.png", []byte("not an image at all"))
	write("00003.png", good.Bytes()[:good.Len()/2])
	ms := []Meme{
		{ID: "1", Img: "img/00001.png"},
		{ID: "2", Img: "img/00002.png"},
		{ID: "3", Img: "img/00003.png"},
		{ID: "4", Img: "img/00004.png"},
		{ID: "5", Img: "../outside.png"},
	}
	if _, err := ms[0].Image(root); err != nil {
		t.Fatalf("good image: %v", err)
	}
	for _, tc := range []struct {
		m    Meme
		want string
	}{
		{ms[1], "meme 2: image " + filepath.Join(root, "img/00002.png")},
		{ms[2], "meme 3: image " + filepath.Join(root, "img/00003.png")},
		{ms[3], "meme 4: image: open " + filepath.Join(root, "img/00004.png")},
		{ms[4], "meme 5: image \"../outside.png\": path escapes"},
	} {
		if _, err := tc.m.Image(root); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("meme %s: err = %v, want %q", tc.m.ID, err, tc.want)
		}
	}
	errs := CheckImages(root, ms)
	// Header-only check: the truncated PNG (3) still has a valid header.
	wantIDs := []string{"meme 2:", "meme 4:", "meme 5:"}
	if len(errs) != len(wantIDs) {
		t.Fatalf("CheckImages = %v, want %d errors", errs, len(wantIDs))
	}
	for i, err := range errs {
		if !strings.HasPrefix(err.Error(), wantIDs[i]) {
			t.Errorf("error %d = %v, want prefix %q", i, err, wantIDs[i])
		}
	}
	if errs := CheckImages(root, ms[:1]); errs != nil {
		t.Fatalf("all good: %v", errs)
	}
}

func TestDecodeImageRejectsHugeHeader(t *testing.T) {
	var buf bytes.Buffer
	if err := png.Encode(&buf, image.NewGray(image.Rect(0, 0, 1, 1))); err != nil {
		t.Fatal(err)
	}
	data := buf.Bytes()
	// Claim 100000×100000 in IHDR (width and height at bytes 16..23) and
	// fix the chunk's CRC, so only the size check can reject it.
	copy(data[16:24], []byte{0, 1, 0x86, 0xA0, 0, 1, 0x86, 0xA0})
	binary.BigEndian.PutUint32(data[29:33], crc32.ChecksumIEEE(data[12:29]))
	if _, err := DecodeImage(data); err == nil || !strings.Contains(err.Error(), "exceeds") {
		t.Fatalf("err = %v, want a size error", err)
	}
}

func FuzzDecodeImage(f *testing.F) {
	for _, name := range []string{"rgb.png", "rgba.png", "p_trns.png", "jpeg420.jpg", "gray.jpg"} {
		data, err := os.ReadFile(filepath.Join("testdata/images", name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Add([]byte("\x89PNG\r\n\x1a\n"))
	f.Add([]byte("\xff\xd8\xff"))
	f.Fuzz(func(t *testing.T, data []byte) {
		img, err := DecodeImage(data)
		if err != nil {
			return
		}
		b := img.Bounds()
		if b.Min != (image.Point{}) || b.Dx() <= 0 || b.Dy() <= 0 || len(img.Pix) != 4*b.Dx()*b.Dy() {
			t.Fatalf("bad image bounds %v, %d bytes", b, len(img.Pix))
		}
	})
}

// TestYCbCrRatios checks every subsampling ratio on flat chroma, where
// any correct upsampler must reproduce the constant, against libjpeg's
// conversion of that colour, and on odd sizes that end mid-block.
func TestYCbCrRatios(t *testing.T) {
	ratios := []image.YCbCrSubsampleRatio{
		image.YCbCrSubsampleRatio444, image.YCbCrSubsampleRatio422, image.YCbCrSubsampleRatio420,
		image.YCbCrSubsampleRatio440, image.YCbCrSubsampleRatio411, image.YCbCrSubsampleRatio410,
	}
	for _, ratio := range ratios {
		for _, size := range []image.Point{{1, 1}, {2, 3}, {7, 5}, {16, 9}} {
			t.Run(fmt.Sprintf("%v/%dx%d", ratio, size.X, size.Y), func(t *testing.T) {
				img := image.NewYCbCr(image.Rect(0, 0, size.X, size.Y), ratio)
				for i := range img.Y {
					img.Y[i] = 120
				}
				for i := range img.Cb {
					img.Cb[i], img.Cr[i] = 90, 200
				}
				got := toRGB(img)
				// libjpeg: R = Y + 1.402·(Cr−128), G = Y − 0.34414·(Cb−128) − 0.71414·(Cr−128), B = Y + 1.772·(Cb−128), rounded.
				want := [4]uint8{221, 82, 53, 255}
				for i := 0; i < size.X*size.Y; i++ {
					if p := [4]uint8(got.Pix[4*i : 4*i+4]); p != want {
						t.Fatalf("pixel %d = %v, want %v", i, p, want)
					}
				}
			})
		}
	}
}
