package vision

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strconv"

	"mmc/ml/blas"
	"mmc/ml/checkpoint"
	"mmc/ml/kernels"
	"mmc/ml/tensor"
)

// ViTArch is what a DINOv2 checkpoint says about its ViT, plus the two
// position-embedding settings that live in the hub builder, not in the
// weights (see LoadViT).
type ViTArch struct {
	Width, Depth, Heads int
	Patch               int
	Registers           int
	MLP                 int // hidden width of the MLP
	PosGrid             int // side of the position-embedding grid (37 for 518/14)
	// InterpOffset and InterpAntialias are DINOv2's interpolate_offset
	// and interpolate_antialias: 0.1 / false for the original models,
	// 0 / true for the register (…_reg4) models.
	InterpOffset    float64
	InterpAntialias bool
}

func (a ViTArch) String() string {
	return fmt.Sprintf("ViT width %d, depth %d, %d heads, patch %d, %d registers, pos grid %d", a.Width, a.Depth, a.Heads, a.Patch, a.Registers, a.PosGrid)
}

type vitBlock struct {
	norm1W, norm1B, qkvW, qkvB, projW, projB, ls1 []float32
	norm2W, norm2B, fc1W, fc1B, fc2W, fc2B, ls2   []float32
}

// ViT is a frozen DINOv2 vision transformer
// (dinov2/models/vision_transformer.py, block_chunks=0, MLP FFN):
// patch embedding, [CLS] + registers, pre-norm blocks with LayerScale and
// exact GELU, final LayerNorm (eps 1e-6 everywhere).
type ViT struct {
	Arch     ViTArch
	patch    *kernels.Conv2D
	cls, pos []float32 // [D], [1+M², D]
	reg      []float32 // [R, D]
	blocks   []vitBlock
	normW    []float32
	normB    []float32
}

// LoadViT builds a ViT from a DINOv2 state dict, inferring width
// (cls_token), patch size (patch_embed.proj.weight), depth (blocks.N),
// heads = width/64, register tokens and the position grid. The
// position-embedding interpolation follows the hub builders: offset 0.1
// without registers, antialiased resize with them.
func LoadViT(sd checkpoint.StateDict) (*ViT, error) {
	ld := loader{sd: sd}
	if _, ok := sd["blocks.0.0.norm1.weight"]; ok {
		return nil, fmt.Errorf("vit: checkpoint uses block_chunks (keys blocks.C.N.*); save the hub model's state_dict (block_chunks=0)")
	}
	cls, err := ld.get("cls_token", 1, 1, -1)
	if err != nil {
		return nil, fmt.Errorf("vit: %w", err)
	}
	d := cls.Shape[2]
	a := ViTArch{Width: d, Heads: d / 64}
	if d%64 != 0 {
		return nil, fmt.Errorf("vit: cls_token width %d is not a multiple of the 64-wide heads", d)
	}
	pw, err := ld.get("patch_embed.proj.weight", d, 3, -1, -1)
	if err != nil {
		return nil, fmt.Errorf("vit: %w", err)
	}
	if pw.Shape[2] != pw.Shape[3] {
		return nil, fmt.Errorf("vit: patch_embed.proj.weight %v is not a square patch", pw.Shape)
	}
	a.Patch = pw.Shape[2]
	pb, err := ld.get("patch_embed.proj.bias", d)
	if err != nil {
		return nil, fmt.Errorf("vit: %w", err)
	}
	pos, err := ld.get("pos_embed", 1, -1, d)
	if err != nil {
		return nil, fmt.Errorf("vit: %w", err)
	}
	a.PosGrid = int(math.Round(math.Sqrt(float64(pos.Shape[1] - 1))))
	if a.PosGrid*a.PosGrid != pos.Shape[1]-1 {
		return nil, fmt.Errorf("vit: pos_embed has %d positions, not 1 + a square grid", pos.Shape[1])
	}
	v := &ViT{cls: cls.Data, pos: pos.Data, normW: nil}
	if r, ok := sd["register_tokens"]; ok {
		if len(r.Shape) != 3 || r.Shape[2] != d {
			return nil, fmt.Errorf("vit: register_tokens has shape %v, want [1, R, %d]", r.Shape, d)
		}
		if err := r.Check("register_tokens"); err != nil {
			return nil, fmt.Errorf("vit: %w", err)
		}
		a.Registers, v.reg = r.Shape[1], r.Data
		a.InterpAntialias = true
	} else {
		a.InterpOffset = 0.1
	}
	v.patch = kernels.NewConv2D(3, d, a.Patch, a.Patch, 0, pw.Data, pb.Data)
	for n := 0; ; n++ {
		p := "blocks." + strconv.Itoa(n) + "."
		if _, ok := sd[p+"norm1.weight"]; !ok {
			break
		}
		b, hidden, err := ld.vitBlock(p, d)
		if err != nil {
			return nil, fmt.Errorf("vit: %w", err)
		}
		if n == 0 {
			a.MLP = hidden
		} else if hidden != a.MLP {
			return nil, fmt.Errorf("vit: %smlp.fc1.weight has %d outputs, block 0 has %d", p, hidden, a.MLP)
		}
		v.blocks = append(v.blocks, b)
	}
	if a.Depth = len(v.blocks); a.Depth == 0 {
		return nil, fmt.Errorf("vit: checkpoint has no %q (not a DINOv2 ViT, or a truncated file)", "blocks.0.norm1.weight")
	}
	nw, err := ld.get("norm.weight", d)
	if err != nil {
		return nil, fmt.Errorf("vit: %w", err)
	}
	nb, err := ld.get("norm.bias", d)
	if err != nil {
		return nil, fmt.Errorf("vit: %w", err)
	}
	v.normW, v.normB = nw.Data, nb.Data
	v.Arch = a
	return v, nil
}

func (l loader) vitBlock(p string, d int) (vitBlock, int, error) {
	var b vitBlock
	fc1, err := l.get(p+"mlp.fc1.weight", -1, d)
	if err != nil {
		return b, 0, err
	}
	h := fc1.Shape[0]
	for _, f := range []struct {
		dst  *[]float32
		key  string
		dims []int
	}{
		{&b.norm1W, "norm1.weight", []int{d}}, {&b.norm1B, "norm1.bias", []int{d}},
		{&b.qkvW, "attn.qkv.weight", []int{3 * d, d}}, {&b.qkvB, "attn.qkv.bias", []int{3 * d}},
		{&b.projW, "attn.proj.weight", []int{d, d}}, {&b.projB, "attn.proj.bias", []int{d}},
		{&b.ls1, "ls1.gamma", []int{d}},
		{&b.norm2W, "norm2.weight", []int{d}}, {&b.norm2B, "norm2.bias", []int{d}},
		{&b.fc1W, "mlp.fc1.weight", []int{h, d}}, {&b.fc1B, "mlp.fc1.bias", []int{h}},
		{&b.fc2W, "mlp.fc2.weight", []int{d, h}}, {&b.fc2B, "mlp.fc2.bias", []int{d}},
		{&b.ls2, "ls2.gamma", []int{d}},
	} {
		a, err := l.get(p+f.key, f.dims...)
		if err != nil {
			return b, 0, err
		}
		*f.dst = a.Data
	}
	return b, h, nil
}

// RandomViTStateDict returns random DINOv2-layout weights for a ViT of
// the given width (a multiple of 64), depth, patch size, position grid and
// register count, for demos and tests without the real checkpoint.
func RandomViTStateDict(width, depth, patch, posGrid, registers int, seed uint64) checkpoint.StateDict {
	rng := rand.New(rand.NewPCG(seed, 14))
	sd := checkpoint.StateDict{}
	put := func(key string, std, mean float64, shape ...int) {
		a := &checkpoint.Array{Shape: shape, Data: make([]float32, tensor.NumElements(shape))}
		for i := range a.Data {
			a.Data[i] = float32(mean + std*rng.NormFloat64())
		}
		sd[key] = a
	}
	d, h := width, 4*width
	put("cls_token", 0.02, 0, 1, 1, d)
	put("pos_embed", 0.02, 0, 1, 1+posGrid*posGrid, d)
	put("mask_token", 0, 0, 1, d)
	if registers > 0 {
		put("register_tokens", 0.02, 0, 1, registers, d)
	}
	put("patch_embed.proj.weight", 1/math.Sqrt(float64(3*patch*patch)), 0, d, 3, patch, patch)
	put("patch_embed.proj.bias", 0.02, 0, d)
	for n := 0; n < depth; n++ {
		p := "blocks." + strconv.Itoa(n) + "."
		put(p+"norm1.weight", 0.05, 1, d)
		put(p+"norm1.bias", 0.02, 0, d)
		put(p+"attn.qkv.weight", 1/math.Sqrt(float64(d)), 0, 3*d, d)
		put(p+"attn.qkv.bias", 0.02, 0, 3*d)
		put(p+"attn.proj.weight", 1/math.Sqrt(float64(d)), 0, d, d)
		put(p+"attn.proj.bias", 0.02, 0, d)
		put(p+"ls1.gamma", 0.02, 0.1, d)
		put(p+"norm2.weight", 0.05, 1, d)
		put(p+"norm2.bias", 0.02, 0, d)
		put(p+"mlp.fc1.weight", 1/math.Sqrt(float64(d)), 0, h, d)
		put(p+"mlp.fc1.bias", 0.02, 0, h)
		put(p+"mlp.fc2.weight", 1/math.Sqrt(float64(h)), 0, d, h)
		put(p+"mlp.fc2.bias", 0.02, 0, d)
		put(p+"ls2.gamma", 0.02, 0.1, d)
	}
	put("norm.weight", 0.05, 1, d)
	put("norm.bias", 0.02, 0, d)
	return sd
}

// mlpRows is how many tokens go through a block's MLP at once, and
// attnRows how many queries share one block of attention scores: the
// hidden layer (4× the width) and the n×n scores of a head would
// otherwise be the largest activations.
const (
	mlpRows  = 256
	attnRows = 256
)

// ViTWorkspace holds one image's token buffers, reused across calls; not
// safe for concurrent use.
type ViTWorkspace struct {
	x, y, qkv, ctx, hid, col, scores []float32
	outs                             [][]float32 // returned block outputs
	posCache                         map[[2]int][]float32
}

func growTo(b *[]float32, n int) []float32 {
	if cap(*b) < n {
		*b = make([]float32, n)
	}
	return (*b)[:n]
}

// ViTOutput is what one forward pass returns for an image of hp×wp
// patches: the final-norm patch tokens of each requested block
// (registers and [CLS] dropped), and optionally the last block's
// attention of [CLS] over all tokens, per head.
type ViTOutput struct {
	HP, WP int
	// Blocks[i] is [HP·WP, Width], row-major over the patch grid; it lives
	// in the workspace until its next Forward.
	Blocks [][]float32
	// CLSAttention is [Heads, 1+Registers+HP·WP] (softmax rows of the
	// last block's [CLS] query), nil unless asked for.
	CLSAttention []float32
}

// Forward runs the ViT on one normalised image x [3, h, w] (h and w
// multiples of the patch size). blocks lists the 1-based blocks whose
// outputs to return, each passed through the final LayerNorm as DINOv2's
// get_intermediate_layers(norm=True) does; clsAttn asks for the last
// block's [CLS] attention maps.
func (v *ViT) Forward(ws *ViTWorkspace, x []float32, h, w int, blocks []int, clsAttn bool) (ViTOutput, error) {
	a := v.Arch
	if h%a.Patch != 0 || w%a.Patch != 0 {
		return ViTOutput{}, fmt.Errorf("vit: input %d×%d is not a multiple of the %d-pixel patch", h, w, a.Patch)
	}
	for _, b := range blocks {
		if b < 1 || b > a.Depth {
			return ViTOutput{}, fmt.Errorf("vit: block %d outside 1…%d", b, a.Depth)
		}
	}
	d := a.Width
	hp, wp := h/a.Patch, w/a.Patch
	np := hp * wp
	first := 1 + a.Registers
	n := first + np
	out := ViTOutput{HP: hp, WP: wp, Blocks: make([][]float32, len(blocks))}

	// patch embedding [D, hp·wp] → tokens [n, D]
	xs := growTo(&ws.x, n*d)
	emb := growTo(&ws.y, d*np)
	v.patch.Forward(emb, x, 1, h, w, growTo(&ws.col, v.patch.ColSize(h, w)))
	pos := v.posEmbed(ws, hp, wp, h == w)
	copy(xs[:d], v.cls)
	for i := range d {
		xs[i] += pos[i]
	}
	copy(xs[d:first*d], v.reg)
	for p := 0; p < np; p++ {
		row := xs[(first+p)*d : (first+p+1)*d]
		pe := pos[(1+p)*d : (2+p)*d]
		for c := range row {
			row[c] = emb[c*np+p] + pe[c]
		}
	}

	for bi := range v.blocks {
		last := bi == len(v.blocks)-1
		var attn []float32
		if last && clsAttn {
			attn = make([]float32, a.Heads*n)
		}
		v.block(ws, &v.blocks[bi], xs, n, attn)
		if attn != nil {
			out.CLSAttention = attn
		}
		for i, b := range blocks {
			if b == bi+1 {
				for len(ws.outs) <= i {
					ws.outs = append(ws.outs, nil)
				}
				t := growTo(&ws.outs[i], np*d)
				layerNorm(t, xs[first*d:], np, d, v.normW, v.normB, 1e-6)
				out.Blocks[i] = t
			}
		}
	}
	return out, nil
}

// block runs x += ls1·attn(norm1(x)); x += ls2·mlp(norm2(x)) in place;
// clsAttn, when not nil, receives the [CLS] attention rows [heads, n].
func (v *ViT) block(ws *ViTWorkspace, b *vitBlock, x []float32, n int, clsAttn []float32) {
	d, heads := v.Arch.Width, v.Arch.Heads
	hd := d / heads
	y := growTo(&ws.y, n*d)
	qkv := growTo(&ws.qkv, n*3*d)
	ctx := growTo(&ws.ctx, n*d)
	layerNorm(y, x, n, d, b.norm1W, b.norm1B, 1e-6)
	linear(qkv, y, n, d, 3*d, b.qkvW, b.qkvB)
	v.attention(ws, qkv, ctx, n, heads, hd, clsAttn)
	linear(y, ctx, n, d, d, b.projW, b.projB)
	addScaled(x, y, b.ls1, n, d)

	// the MLP in chunks of mlpRows tokens: its hidden layer is 4× the
	// width, and a full [n, 4d] buffer would be the largest activation
	layerNorm(y, x, n, d, b.norm2W, b.norm2B, 1e-6)
	m := v.Arch.MLP
	hid := growTo(&ws.hid, min(n, mlpRows)*m)
	for lo := 0; lo < n; lo += mlpRows {
		rows := min(mlpRows, n-lo)
		h := hid[:rows*m]
		linear(h, y[lo*d:], rows, d, m, b.fc1W, b.fc1B)
		kernels.GELU(h, h)
		linear(y[lo*d:], h, rows, m, d, b.fc2W, b.fc2B)
	}
	addScaled(x, y, b.ls2, n, d)
}

// attention computes softmax(q·kᵀ/√hd)·v per head from qkv [n, 3, heads,
// hd] into ctx [n, heads·hd], heads spread over kernels.Workers() goroutines,
// each with its own n×n score buffer and a single-threaded GEMM.
func (v *ViT) attention(ws *ViTWorkspace, qkv, ctx []float32, n, heads, hd int, clsAttn []float32) {
	d := heads * hd
	workers := min(kernels.Workers(), heads)
	rows := min(n, attnRows)
	scores := growTo(&ws.scores, workers*rows*n)
	scale := float32(1 / math.Sqrt(float64(hd)))
	kernels.ParallelChunks(heads, 1<<20, func(c, lo, hi int) {
		s := scores[c*rows*n : (c+1)*rows*n] // chunk c's own score buffer
		for h := lo; h < hi; h++ {
			// query rows in blocks, so the score buffer is rows×n, not n×n
			for q0 := 0; q0 < n; q0 += rows {
				m := min(rows, n-q0)
				sb := s[:m*n]
				blas.SgemmSerial(false, true, m, n, hd, scale, qkv[q0*3*d+h*hd:], 3*d, qkv[d+h*hd:], 3*d, 0, sb, n)
				kernels.SoftmaxSerial(sb, sb, nil, m, n)
				if clsAttn != nil && q0 == 0 {
					copy(clsAttn[h*n:(h+1)*n], sb[:n])
				}
				blas.SgemmSerial(false, false, m, hd, n, 1, sb, n, qkv[2*d+h*hd:], 3*d, 0, ctx[q0*d+h*hd:], d)
			}
		}
	})
}

// addScaled does x += gamma ⊙ y row by row (LayerScale and the residual).
func addScaled(x, y, gamma []float32, n, d int) {
	kernels.ParallelFor(n, d, func(lo, hi int) {
		for r := lo; r < hi; r++ {
			xr, yr := x[r*d:(r+1)*d], y[r*d:(r+1)*d]
			for i := range xr {
				xr[i] += gamma[i] * yr[i]
			}
		}
	})
}

// posEmbed returns the position embeddings [1+hp·wp, D] for an hp×wp
// patch grid, as DINOv2's interpolate_pos_encoding: unchanged when the
// grid matches and the image is square, otherwise the patch part resized
// bicubically (scale factors (hp+offset)/M, (wp+offset)/M, or exact
// sizes with antialiasing for the register models). Cached per grid.
func (v *ViT) posEmbed(ws *ViTWorkspace, hp, wp int, square bool) []float32 {
	a := v.Arch
	m := a.PosGrid
	if hp*wp == m*m && square {
		return v.pos
	}
	key := [2]int{hp, wp}
	if p, ok := ws.posCache[key]; ok {
		return p
	}
	d := a.Width
	// [M², D] → [D, M, M]
	src := make([]float32, d*m*m)
	for p := 0; p < m*m; p++ {
		for c := 0; c < d; c++ {
			src[c*m*m+p] = v.pos[(1+p)*d+c]
		}
	}
	o := kernels.Interp{Mode: kernels.Bicubic, Antialias: a.InterpAntialias}
	if a.InterpOffset != 0 {
		o.ScaleH = (float64(hp) + a.InterpOffset) / float64(m)
		o.ScaleW = (float64(wp) + a.InterpOffset) / float64(m)
	}
	dst := make([]float32, d*hp*wp)
	kernels.Interpolate(dst, src, d, m, m, hp, wp, o)
	out := make([]float32, (1+hp*wp)*d)
	copy(out, v.pos[:d])
	for p := 0; p < hp*wp; p++ {
		for c := 0; c < d; c++ {
			out[(1+p)*d+c] = dst[c*hp*wp+p]
		}
	}
	if ws.posCache == nil {
		ws.posCache = map[[2]int][]float32{}
	}
	ws.posCache[key] = out
	return out
}
