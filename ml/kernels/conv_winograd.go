package kernels

import (
	"fmt"

	"mmc/ml/blas"
)

// Winograd minimal filtering (Lavin & Gray, "Fast Algorithms for
// Convolutional Neural Networks", 2016): a 3×3, stride-1 convolution
// computed per m×m output tile from the (m+2)×(m+2) input tile around it
// as
//
//	Y = Aᵀ [ (G g Gᵀ) ⊙ (Bᵀ d B) ] A
//
// summed over input channels, so each of the (m+2)² positions of the
// transformed tile is one matrix product [OutC × InC] · [InC × tiles].
//
// F(2×2, 3×3): 16 multiplications per 4 outputs instead of 36 (2.25×
// fewer); the transforms use only 0, ±1 and ½, so the result is the
// direct convolution's to a few float32 roundings.
//
//	Bᵀ = [1 0 −1 0; 0 1 1 0; 0 −1 1 0; 0 1 0 −1]
//	G  = [1 0 0; ½ ½ ½; ½ −½ ½; 0 0 1]
//	Aᵀ = [1 1 1 0; 0 1 −1 −1]
//
// F(4×4, 3×3), interpolation points 0, ±1, ±2, ∞: 36 multiplications per
// 16 outputs instead of 144 (4× fewer), with larger transform
// coefficients (up to 8), so a few times the rounding error of F(2×2).
//
//	Bᵀ = [4 0 −5 0 1 0; 0 −4 −4 1 1 0; 0 4 −4 −1 1 0; 0 −2 −1 2 1 0; 0 2 −1 −2 1 0; 0 4 0 −5 0 1]
//	G  = [¼ 0 0; −⅙ −⅙ −⅙; −⅙ ⅙ −⅙; 1⁄24 1⁄12 ⅙; 1⁄24 −1⁄12 ⅙; 0 0 1]
//	Aᵀ = [1 1 1 1 1 0; 0 1 −1 2 −2 0; 0 1 1 4 4 0; 0 1 −1 8 −8 1]
//
// The filters are transformed (in float64) on every call: no second copy
// of the weights is kept, and transforming costs (m+2)²·3 operations per
// filter against the product's (m+2)²·tiles.

// winoTiles bounds the tiles transformed at once (all workers together):
// the transformed input and product blocks are (m+2)²·tiles·channels
// values each, large enough for efficient products, small enough to stay
// a few MiB.
const winoTiles = 640

// winoGrain is how many channels a worker transforms per claim: small
// enough to even out the workers (convDynamic), large enough that claims
// are rare.
const winoGrain = 8

// winoPad separates the planes of each transformed block: planes a
// multiple of 4 KiB apart would make the streams of a tile transform fall
// into the same cache sets.
const winoPad = 32

// wino returns the output tile side m of the Winograd algorithm the
// convolution runs (0: none): Conv2D.Winograd is 2 or 4 and the
// geometry is 3×3, stride 1, dilation 1, padding 1 (output size = input
// size), one group.
func (c *Conv2D) wino() int {
	if (c.Winograd != 2 && c.Winograd != 4) || c.KH != 3 || c.KW != 3 || c.StrideH != 1 || c.StrideW != 1 ||
		c.DilH != 1 || c.DilW != 1 || c.PadH != 1 || c.PadW != 1 || max(c.Groups, 1) != 1 {
		return 0
	}
	return c.Winograd
}

// winoChunk is how many tiles of side m n h×w inputs have, and how many
// one pass transforms.
func winoChunk(m, n, h, w int) (tiles, chunk int) {
	tiles = n * ((h + m - 1) / m) * ((w + m - 1) / m)
	return tiles, min(tiles, winoTiles)
}

// winoStrides are the plane strides of the transformed weights, input
// and products for a chunk of nt tiles.
func (c *Conv2D) winoStrides(nt int) (us, vs, ms int) {
	return c.OutC*c.InC + winoPad, c.InC*nt + winoPad, c.OutC*nt + winoPad
}

// winoScratch is the scratch Winograd needs: transformed weights [P,
// OutC, InC], then input [P, InC, chunk] and products [P, OutC, chunk] of
// one chunk of tiles (P = (m+2)² planes, winoPad apart).
func (c *Conv2D) winoScratch(m, n, h, w int) int {
	_, chunk := winoChunk(m, n, h, w)
	us, vs, ms := c.winoStrides(chunk)
	return (m + 2) * (m + 2) * (us + vs + ms)
}

// forwardWinograd is forward for a Winograd convolution with m×m output
// tiles: src [InC, n, h, w] → dst [OutC, n, h, w], with bias,
// accumulation and ReLU as forward. The weights are transformed once per
// call, then each chunk of tiles is transformed, multiplied (one product
// per tile position, shared out over the workers) and transformed back
// into dst with the epilogue.
func (c *Conv2D) forwardWinograd(m int, dst, src []float32, n, h, w int, col []float32) {
	inC, outC := c.InC, c.OutC
	planes := (m + 2) * (m + 2)
	th, tw := (h+m-1)/m, (w+m-1)/m
	tiles, chunk := winoChunk(m, n, h, w)
	us, _, _ := c.winoStrides(chunk)
	u := col[:planes*us]
	rest := col[planes*us:]
	convDynamic(outC, winoGrain, planes*inC*4, func(_, lo, hi int) { winoWeightsSerial(m, u, c.Weight, outC, inC, lo, hi, us) })
	for t0 := 0; t0 < tiles; t0 += chunk {
		nt := min(chunk, tiles-t0)
		_, vs, ms := c.winoStrides(nt)
		v, prod := rest[:planes*vs], rest[planes*vs:planes*(vs+ms)]
		convDynamic(inC, winoGrain, 2*planes*nt, func(_, lo, hi int) {
			for ci := lo; ci < hi; ci++ {
				winoInputSerial(m, v, src[ci*n*h*w:(ci+1)*n*h*w], ci, vs, nt, t0, h, w, th, tw)
			}
		})
		convDynamic(planes, 1, outC*inC*nt, func(_, lo, hi int) {
			for p := lo; p < hi; p++ {
				blas.SgemmSerial(false, false, outC, nt, inC, 1, u[p*us:], inC, v[p*vs:], nt, 0, prod[p*ms:], nt)
			}
		})
		convDynamic(outC, winoGrain, 2*planes*nt, func(_, lo, hi int) {
			for o := lo; o < hi; o++ {
				var bias float32
				if c.Bias != nil {
					bias = c.Bias[o]
				}
				winoOutputSerial(m, dst[o*n*h*w:(o+1)*n*h*w], prod, o, ms, nt, t0, h, w, th, tw, bias, c.Accumulate, c.ReLU)
			}
		})
	}
}

// WinogradWeights transforms the 3×3 filters of output channels lo…hi,
// weight [outC, inC, 3, 3], for F(m×m, 3×3) (m = 2 or 4) into u [(m+2)²,
// outC, inC]: u[p, o, i] is position p = (m+2)·row + column of G g Gᵀ
// for filter g = weight[o, i].
func WinogradWeights(m int, u, weight []float32, outC, inC, lo, hi int) {
	a := m + 2
	if (m != 2 && m != 4) || len(weight) < outC*inC*9 || len(u) < a*a*outC*inC || lo < 0 || hi > outC {
		panic(fmt.Sprintf("kernels: WinogradWeights: m %d (2 or 4), %d weights or %d outputs too short for %d×%d filters", m, len(weight), len(u), outC, inC))
	}
	winoWeightsSerial(m, u, weight, outC, inC, lo, hi, outC*inC)
}
