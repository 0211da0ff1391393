package memes

import (
	"image"
)

// ycbcrToRGB converts a decoded JPEG to RGB the way libjpeg(-turbo),
// and so PIL, does by default, so that pixels fed to a vision backbone
// match PyTorch's: chroma planes are upsampled with libjpeg's "fancy"
// triangular filter (jdsample.c) rather than Go's pixel replication,
// then converted with libjpeg's fixed-point tables (jdcolor.c).
// Remaining differences come from the two decoders' IDCTs (±2 at most
// on the fixtures).
func ycbcrToRGB(src *image.YCbCr) *image.RGBA {
	b := src.Bounds()
	w, h := b.Dx(), b.Dy()
	dst := image.NewRGBA(image.Rect(0, 0, w, h))
	cb := upsampleChroma(src, src.Cb, w, h)
	cr := upsampleChroma(src, src.Cr, w, h)
	for y := 0; y < h; y++ {
		yrow := src.Y[src.YOffset(b.Min.X, b.Min.Y+y):]
		out := dst.Pix[y*dst.Stride:]
		for x := 0; x < w; x++ {
			yy := int32(yrow[x])
			cbv, crv := cb[y*w+x], cr[y*w+x]
			out[4*x] = clamp8(yy + crR[crv])
			out[4*x+1] = clamp8(yy + (cbG[cbv]+crG[crv])>>16)
			out[4*x+2] = clamp8(yy + cbB[cbv])
			out[4*x+3] = 255
		}
	}
	return dst
}

// libjpeg's YCbCr→RGB tables: FIX(x) = round(x·2¹⁶), ONE_HALF = 2¹⁵.
var crR, cbB, crG, cbG [256]int32

func init() {
	fix := func(x float64) int32 { return int32(x*65536 + 0.5) }
	for i := range 256 {
		x := int32(i - 128)
		crR[i] = (fix(1.40200)*x + 1<<15) >> 16
		cbB[i] = (fix(1.77200)*x + 1<<15) >> 16
		crG[i] = -fix(0.71414) * x
		cbG[i] = -fix(0.34414)*x + 1<<15
	}
}

func clamp8(v int32) uint8 {
	if v < 0 {
		return 0
	}
	if v > 255 {
		return 255
	}
	return uint8(v)
}

// upsampleChroma returns one chroma plane at full resolution (w×h,
// row-major), upsampled as libjpeg-turbo does for the subsampling ratio.
func upsampleChroma(src *image.YCbCr, plane []uint8, w, h int) []uint8 {
	out := make([]uint8, w*h)
	// Downsampled plane size, as libjpeg's downsampled_width/height.
	hs, vs := 1, 1
	switch src.SubsampleRatio {
	case image.YCbCrSubsampleRatio422:
		hs = 2
	case image.YCbCrSubsampleRatio420:
		hs, vs = 2, 2
	case image.YCbCrSubsampleRatio440:
		vs = 2
	case image.YCbCrSubsampleRatio411:
		hs = 4
	case image.YCbCrSubsampleRatio410:
		hs, vs = 4, 2
	}
	cw, ch := (w+hs-1)/hs, (h+vs-1)/vs
	row := func(cy int) []uint8 {
		// libjpeg replicates the edge rows as context above and below.
		cy = max(0, min(cy, ch-1))
		off := src.COffset(src.Rect.Min.X, src.Rect.Min.Y+cy*vs)
		return plane[off : off+cw]
	}
	tmp := make([]int32, 2*cw)
	for y := 0; y < h; y++ {
		o := out[y*w : (y+1)*w]
		cy := y / vs
		switch {
		case hs == 2 && vs == 2 && cw > 2: // h2v2_fancy_upsample
			near, far := row(cy), row(cy-1)
			if y%2 == 1 {
				far = row(cy + 1)
			}
			sum := tmp[:cw]
			for i := range sum {
				sum[i] = 3*int32(near[i]) + int32(far[i])
			}
			put := func(x int, v int32) {
				if x < w {
					o[x] = uint8(v >> 4)
				}
			}
			put(0, sum[0]*4+8)
			put(1, sum[0]*3+sum[1]+7)
			for i := 1; i < cw-1; i++ {
				put(2*i, sum[i]*3+sum[i-1]+8)
				put(2*i+1, sum[i]*3+sum[i+1]+7)
			}
			put(2*cw-2, sum[cw-1]*3+sum[cw-2]+8)
			put(2*cw-1, sum[cw-1]*4+7)
		case hs == 2 && vs == 1 && cw > 2: // h2v1_fancy_upsample
			in := row(cy)
			put := func(x int, v int32) {
				if x < w {
					o[x] = uint8(v >> 2)
				}
			}
			put(0, int32(in[0])*4)
			put(1, int32(in[0])*3+int32(in[1])+2)
			for i := 1; i < cw-1; i++ {
				put(2*i, int32(in[i])*3+int32(in[i-1])+1)
				put(2*i+1, int32(in[i])*3+int32(in[i+1])+2)
			}
			put(2*cw-2, int32(in[cw-1])*3+int32(in[cw-2])+1)
			put(2*cw-1, int32(in[cw-1])*4)
		case hs == 1 && vs == 2: // h1v2_fancy_upsample
			near, far, bias := row(cy), row(cy-1), int32(1)
			if y%2 == 1 {
				far, bias = row(cy+1), 2
			}
			for x := 0; x < w; x++ {
				o[x] = uint8((3*int32(near[x]) + int32(far[x]) + bias) >> 2)
			}
		default: // 4:4:4, or replication (4:1:1, 4:1:0, planes of width ≤ 2)
			in := row(cy)
			for x := 0; x < w; x++ {
				o[x] = in[x/hs]
			}
		}
	}
	return out
}
