package vision

import (
	"fmt"
	"image"
	"image/color"
	"math"

	"mmc/ml/kernels"
)

// ImageNet normalisation constants (torchvision, DINOv2 and MMF use the
// same).
var (
	ImageNetMean = [3]float32{0.485, 0.456, 0.406}
	ImageNetStd  = [3]float32{0.229, 0.224, 0.225}
)

// Preprocess turns a decoded image into a normalised CHW tensor with the
// arithmetic of torchvision transforms on PIL images: Resize (Pillow's
// resampling, so bytes match), CenterCrop, ToTensor, Normalize.
type Preprocess struct {
	// Resize is the short side after resizing (torchvision's Resize(int):
	// the long side becomes int(Resize·long/short)); 0 keeps the size.
	Resize int
	// Square resizes to exactly Crop×Crop, ignoring the aspect ratio
	// (Resize((s, s))); then Resize is unused.
	Square bool
	// Crop is the side of the centre crop; 0 means no crop.
	Crop int
	// Filter is the resampling filter (bilinear for torchvision's
	// classification presets, bicubic for DINOv2).
	Filter    kernels.PILFilter
	Mean, Std [3]float32
}

// Frame maps model-input pixels back to the original image:
// x_orig = (x + OffX)·ScaleX, y_orig = (y + OffY)·ScaleY.
type Frame struct {
	W, H           int // model input size
	ImageW, ImageH int // original image size
	OffX, OffY     float64
	ScaleX, ScaleY float64
}

// Box maps a box (x1, y1, x2, y2) in model-input pixels to original-image
// pixels, clipped to the image.
func (f Frame) Box(x1, y1, x2, y2 float64) [4]float32 {
	cx := func(x float64) float32 { return float32(min(max((x+f.OffX)*f.ScaleX, 0), float64(f.ImageW))) }
	cy := func(y float64) float32 { return float32(min(max((y+f.OffY)*f.ScaleY, 0), float64(f.ImageH))) }
	return [4]float32{cx(x1), cy(y1), cx(x2), cy(y2)}
}

// OutSize is the model-input size for a w×h image.
func (p Preprocess) OutSize(w, h int) (ow, oh int) {
	rw, rh := p.resized(w, h)
	if p.Crop > 0 {
		return p.Crop, p.Crop
	}
	return rw, rh
}

func (p Preprocess) resized(w, h int) (int, int) {
	switch {
	case p.Square:
		return p.Crop, p.Crop
	case p.Resize <= 0:
		return w, h
	case w <= h:
		return p.Resize, int(float64(p.Resize) * float64(h) / float64(w))
	default:
		return int(float64(p.Resize) * float64(w) / float64(h)), p.Resize
	}
}

// Apply writes the model input for img into dst [3, oh, ow] (see OutSize)
// and returns where its pixels came from.
func (p Preprocess) Apply(img image.Image, dst []float32) (Frame, error) {
	if p.Square && p.Crop <= 0 {
		return Frame{}, fmt.Errorf("preprocess: square resize needs a size (crop %d)", p.Crop)
	}
	pix, w, h := rgba(img)
	if w <= 0 || h <= 0 {
		return Frame{}, fmt.Errorf("preprocess: empty image %d×%d", w, h)
	}
	rw, rh := p.resized(w, h)
	if rw <= 0 || rh <= 0 {
		return Frame{}, fmt.Errorf("preprocess: %d×%d image resizes to %d×%d", w, h, rw, rh)
	}
	if rw != w || rh != h {
		out := make([]uint8, rw*rh*4)
		kernels.ResizePIL(out, pix, 4, w, h, rw, rh, p.Filter)
		pix = out
	}
	f := Frame{W: rw, H: rh, ImageW: w, ImageH: h, ScaleX: float64(w) / float64(rw), ScaleY: float64(h) / float64(rh)}
	if p.Crop > 0 && !p.Square {
		if p.Crop > rw || p.Crop > rh {
			return Frame{}, fmt.Errorf("preprocess: centre crop %d larger than the resized %d×%d image", p.Crop, rw, rh)
		}
		// torchvision: int(round((h - crop) / 2)), Python rounding half to even
		top := int(math.RoundToEven(float64(rh-p.Crop) / 2))
		left := int(math.RoundToEven(float64(rw-p.Crop) / 2))
		crop := make([]uint8, p.Crop*p.Crop*4)
		for y := 0; y < p.Crop; y++ {
			copy(crop[y*p.Crop*4:(y+1)*p.Crop*4], pix[((top+y)*rw+left)*4:])
		}
		pix, f.W, f.H, f.OffX, f.OffY = crop, p.Crop, p.Crop, float64(left), float64(top)
	}
	if len(dst) < 3*f.W*f.H {
		return Frame{}, fmt.Errorf("preprocess: output has %d values, need 3×%d×%d", len(dst), f.H, f.W)
	}
	kernels.NormalizeRGB8(dst, pix, 4, f.W, f.H, p.Mean, p.Std)
	return f, nil
}

// rgba returns img as packed 8-bit RGBA rows (alpha dropped, not
// composited, as PIL's convert("RGB") does).
func rgba(img image.Image) ([]uint8, int, int) {
	b := img.Bounds()
	w, h := b.Dx(), b.Dy()
	if m, ok := img.(*image.RGBA); ok && m.Stride == 4*w && m.Opaque() {
		return m.Pix[:4*w*h], w, h
	}
	out := make([]uint8, 4*w*h)
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			c := color.NRGBAModel.Convert(img.At(b.Min.X+x, b.Min.Y+y)).(color.NRGBA)
			o := out[4*(y*w+x):]
			o[0], o[1], o[2], o[3] = c.R, c.G, c.B, 255
		}
	}
	return out, w, h
}

// ResizeMode names how an extractor fits an image to its square input.
//   - "square" (the default): resize to size×size, ignoring the aspect
//     ratio, so all of the meme is seen (captions sit near the edges).
//   - "center_crop": torchvision's classification preset: resize the short
//     side to size·256/224 (256 for 224), then crop the centre size×size.
func preprocessFor(mode string, size int, filter kernels.PILFilter) (Preprocess, error) {
	p := Preprocess{Crop: size, Filter: filter, Mean: ImageNetMean, Std: ImageNetStd}
	switch mode {
	case "", "square":
		p.Square = true
	case "center_crop":
		p.Resize = size * 256 / 224
	default:
		return Preprocess{}, fmt.Errorf("resize %q: want square or center_crop", mode)
	}
	return p, nil
}
