package kernels

import "mmc/ml/blas"

// Winograd F(2×2, 3×3) (Lavin & Gray, "Fast Algorithms for Convolutional
// Neural Networks", 2016): a 3×3, stride-1 convolution computed per 2×2
// output tile from the 4×4 input tile around it as
//
//	Y = Aᵀ [ (G g Gᵀ) ⊙ (Bᵀ d B) ] A
//
// summed over input channels, so each of the 16 positions of the
// transformed tile is one matrix product [OutC × InC] · [InC × tiles]:
// 16·4 = 64 multiplications per four outputs instead of 4·9 = 144, 2.25×
// fewer. The transforms use only 0, ±1 and ½, so the result differs from
// the direct convolution by a few float32 roundings (kernel test below
// 1e-5 of the output's scale).
//
//	Bᵀ = [1 0 −1 0; 0 1 1 0; 0 −1 1 0; 0 1 0 −1]
//	G  = [1 0 0; ½ ½ ½; ½ −½ ½; 0 0 1]
//	Aᵀ = [1 1 1 0; 0 1 −1 −1]

// winoTiles bounds the tiles transformed at once (all workers together):
// the transformed input and product blocks are 16·tiles·channels values
// each, large enough for efficient products, small enough to stay a few
// MiB.
const winoTiles = 640

// winograd reports whether the convolution runs as Winograd F(2×2, 3×3):
// requested, 3×3, stride 1, dilation 1, padding 1 (output size = input
// size), one group.
func (c *Conv2D) winograd() bool {
	return c.Winograd && c.KH == 3 && c.KW == 3 && c.StrideH == 1 && c.StrideW == 1 &&
		c.DilH == 1 && c.DilW == 1 && c.PadH == 1 && c.PadW == 1 && max(c.Groups, 1) == 1
}

// winoChunk is how many tiles one pass transforms for n h×w inputs.
func winoChunk(n, h, w int) (tiles, chunk int) {
	tiles = n * ((h + 1) / 2) * ((w + 1) / 2)
	return tiles, min(tiles, winoTiles)
}

// winoPad separates the 16 planes of each transformed block: planes a
// multiple of 4 KiB apart would make the 16 streams of a tile transform
// fall into the same cache sets.
const winoPad = 32

// winoStrides are the plane strides of the transformed weights, input
// and products for a chunk of nt tiles.
func (c *Conv2D) winoStrides(nt int) (us, vs, ms int) {
	return c.OutC*c.InC + winoPad, c.InC*nt + winoPad, c.OutC*nt + winoPad
}

// winoScratch is the scratch Winograd needs: transformed weights
// [16, OutC, InC], then input [16, InC, chunk] and products [16, OutC,
// chunk] of one chunk of tiles (planes winoPad apart).
func (c *Conv2D) winoScratch(n, h, w int) int {
	_, chunk := winoChunk(n, h, w)
	us, vs, ms := c.winoStrides(chunk)
	return 16 * (us + vs + ms)
}

// forwardWinograd is forward for a Winograd convolution: src [InC, n, h,
// w] → dst [OutC, n, h, w], with bias, accumulation and ReLU as forward.
// The weights are transformed once per call, then each chunk of tiles
// is transformed, multiplied (16 products, one per tile position, shared
// out over the workers) and transformed back into dst with the epilogue.
func (c *Conv2D) forwardWinograd(dst, src []float32, n, h, w int, col []float32) {
	inC, outC := c.InC, c.OutC
	th, tw := (h+1)/2, (w+1)/2
	tiles, chunk := winoChunk(n, h, w)
	us, _, _ := c.winoStrides(chunk)
	u := col[:16*us]
	rest := col[16*us:]
	ParallelFor(outC, 16*inC*4, func(lo, hi int) { winoWeightsSerial(u, c.Weight, outC, inC, lo, hi, us) })
	for t0 := 0; t0 < tiles; t0 += chunk {
		nt := min(chunk, tiles-t0)
		_, vs, ms := c.winoStrides(nt)
		v, m := rest[:16*vs], rest[16*vs:16*(vs+ms)]
		ParallelFor(inC, 32*nt, func(lo, hi int) {
			for ci := lo; ci < hi; ci++ {
				winoInputSerial(v, src[ci*n*h*w:(ci+1)*n*h*w], ci, vs, nt, t0, h, w, th, tw)
			}
		})
		ParallelFor(16, outC*inC*nt, func(lo, hi int) {
			for p := lo; p < hi; p++ {
				blas.SgemmSerial(false, false, outC, nt, inC, 1, u[p*us:], inC, v[p*vs:], nt, 0, m[p*ms:], nt)
			}
		})
		ParallelFor(outC, 32*nt, func(lo, hi int) {
			for o := lo; o < hi; o++ {
				var bias float32
				if c.Bias != nil {
					bias = c.Bias[o]
				}
				winoOutputSerial(dst[o*n*h*w:(o+1)*n*h*w], m, o, ms, nt, t0, h, w, th, tw, bias, c.Accumulate, c.ReLU)
			}
		})
	}
}

// WinogradWeights transforms the 3×3 filters of output channels lo…hi,
// weight [outC, inC, 3, 3], into u [16, outC, inC]: u[p, o, i] is
// position p = 4·row + column of G g Gᵀ for filter g = weight[o, i].
func WinogradWeights(u, weight []float32, outC, inC, lo, hi int) {
	if len(weight) < outC*inC*9 || len(u) < 16*outC*inC || lo < 0 || hi > outC {
		panic("kernels: WinogradWeights: slices too short for the dimensions")
	}
	winoWeightsSerial(u, weight, outC, inC, lo, hi, outC*inC)
}
