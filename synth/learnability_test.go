package synth

import (
	"math"
	"math/rand/v2"
	"sort"
	"strings"
	"testing"
)

// TestLearnability is the proof that the labels need both modalities: a
// text-only and an image-only logistic regression stay at chance, while a
// small grounding model (bag of words × region dot product, max over
// regions) trained by hand-written gradient descent nearly solves it.
func TestLearnability(t *testing.T) {
	cases := []struct {
		name      string
		adjust    func(p *Params)
		groundsOK bool // false: a control where the features carry no attributes
		// lateMin and lateMax bound the caption × region 0 product model
		// (0 and 1: only logged).
		lateMin, lateMax float64
	}{
		{"default knobs", func(p *Params) {}, true, 0, 0.75},
		{"harder: 4×4 concepts, 3 objects, all hard negatives, more noise", func(p *Params) {
			p.NumColours, p.NumShapes, p.ObjectsPerImage = 4, 4, 3
			p.HardNegatives = 1
			p.Detector.Noise = 0.6
			p.Detector.ContextRegions = 4
		}, true, 0, 1},
		{"whole image first", func(p *Params) { p.Detector.WholeImageFirst = true }, true, 0.8, 1},
		{"control: features without attribute codes", func(p *Params) {
			p.Detector.ColourWeight, p.Detector.ShapeWeight, p.Detector.ConceptWeight = 0, 0, 0
		}, false, 0, 0.6},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := DefaultParams()
			p.Splits = []Split{{Name: "train", Memes: 1200, Labelled: true}, {Name: "test", Memes: 400, Labelled: true}}
			p.Detector.Dim = 64 // the default 2048 only slows the test; the codes behave the same
			tc.adjust(&p)
			train, test, vocab := featurize(t, p)

			text := trainLogistic(bagOfWords(train, vocab), labels(train), 300, 0.5)
			if a := auroc(text.predict(bagOfWords(test, vocab)), labels(test)); a > 0.6 {
				t.Errorf("text-only logistic regression: test AUROC %.3f, want ≤ 0.6 (the caption alone must not predict the label)", a)
			} else {
				t.Logf("text-only AUROC %.3f", a)
			}
			img := trainLogistic(pooled(train), labels(train), 300, 0.05)
			if a := auroc(img.predict(pooled(test)), labels(test)); a > 0.6 {
				t.Errorf("image-only logistic regression: test AUROC %.3f, want ≤ 0.6 (the picture alone must not predict the label)", a)
			} else {
				t.Logf("image-only AUROC %.3f", a)
			}
			g := trainGrounding(train, vocab, p.Detector.Dim, 10, false)
			a := auroc(g.predictAll(test), labels(test))
			switch {
			case tc.groundsOK && a < 0.95:
				t.Errorf("grounding model: test AUROC %.3f, want ≥ 0.95 (caption words must be groundable in regions)", a)
			case !tc.groundsOK && a > 0.6:
				t.Errorf("grounding model on attribute-free features: test AUROC %.3f, want ≤ 0.6 (the signal must come from the codes)", a)
			default:
				t.Logf("grounding AUROC %.3f", a)
			}
			// With the whole image first, a plain product of the caption
			// with region 0 (what ViLBERT's pooled head multiplies) already
			// gets most of the way. The rest is binding colour to shape
			// (hard negatives), which no product of a bag of words with a
			// pooled vector can do and co-attention or max over regions can.
			late := trainGrounding(train, vocab, p.Detector.Dim, 10, true)
			a = auroc(late.predictAll(test), labels(test))
			switch {
			case a < tc.lateMin:
				t.Errorf("caption × region 0 (whole image first: %v): test AUROC %.3f, want ≥ %.2f", p.Detector.WholeImageFirst, a, tc.lateMin)
			case a > tc.lateMax:
				t.Errorf("caption × region 0 (whole image first: %v): test AUROC %.3f, want ≤ %.2f (one object of several cannot decide)", p.Detector.WholeImageFirst, a, tc.lateMax)
			default:
				t.Logf("caption × region 0 AUROC %.3f (whole image first: %v)", a, p.Detector.WholeImageFirst)
			}
		})
	}
}

// example is one meme as the models see it.
type example struct {
	tokens  []int       // caption word ids
	regions [][]float32 // [R][D]
	label   float64
}

// featurize generates the set and runs the detector; word ids come from a
// vocabulary over all captions (unknown words would only add noise).
func featurize(t *testing.T, p Params) (train, test []example, vocabSize int) {
	t.Helper()
	set, err := Generate(p)
	if err != nil {
		t.Fatal(err)
	}
	det, err := NewDetector(p.Detector)
	if err != nil {
		t.Fatal(err)
	}
	vocab := map[string]int{}
	var out [2][]example
	for si, sd := range set.Splits {
		for i, m := range sd.Memes {
			rec, err := det.Features(&sd.Scenes[i])
			if err != nil {
				t.Fatal(err)
			}
			var ex example
			for _, w := range strings.Fields(m.Text) {
				id, ok := vocab[w]
				if !ok {
					id = len(vocab)
					vocab[w] = id
				}
				ex.tokens = append(ex.tokens, id)
			}
			for r := range rec.NumBoxes {
				ex.regions = append(ex.regions, rec.Features[r*rec.Dim:(r+1)*rec.Dim])
			}
			ex.label = float64(*m.Label)
			out[si] = append(out[si], ex)
		}
	}
	return out[0], out[1], len(vocab)
}

func labels(xs []example) []float64 {
	y := make([]float64, len(xs))
	for i, x := range xs {
		y[i] = x.label
	}
	return y
}

func bagOfWords(xs []example, vocabSize int) [][]float64 {
	out := make([][]float64, len(xs))
	for i, x := range xs {
		v := make([]float64, vocabSize)
		for _, t := range x.tokens {
			v[t] = 1
		}
		out[i] = v
	}
	return out
}

// pooled is the image-only input: mean and max of the regions, concatenated.
func pooled(xs []example) [][]float64 {
	out := make([][]float64, len(xs))
	for i, x := range xs {
		d := len(x.regions[0])
		v := make([]float64, 2*d)
		for j := range d {
			mx := math.Inf(-1)
			for _, r := range x.regions {
				v[j] += float64(r[j]) / float64(len(x.regions))
				mx = math.Max(mx, float64(r[j]))
			}
			v[d+j] = mx
		}
		out[i] = v
	}
	return out
}

type logistic struct {
	w []float64
	b float64
}

// trainLogistic fits full-batch gradient descent on the mean log loss.
func trainLogistic(x [][]float64, y []float64, iters int, lr float64) *logistic {
	m := &logistic{w: make([]float64, len(x[0]))}
	g := make([]float64, len(m.w))
	for range iters {
		clear(g)
		gb := 0.0
		for i, xi := range x {
			e := sigmoid(dot(m.w, xi)+m.b) - y[i]
			for j, v := range xi {
				g[j] += e * v
			}
			gb += e
		}
		n := float64(len(x))
		for j := range m.w {
			m.w[j] -= lr * g[j] / n
		}
		m.b -= lr * gb / n
	}
	return m
}

func (m *logistic) predict(x [][]float64) []float64 {
	out := make([]float64, len(x))
	for i, xi := range x {
		out[i] = dot(m.w, xi) + m.b
	}
	return out
}

// grounding scores a meme as max over regions of (Σ word vectors)·region + b,
// the simplest model that must look at both modalities together.
type grounding struct {
	words [][]float64 // [V][D]
	b     float64
	// firstOnly scores region 0 alone, as ViLBERT's classifier head pools
	// only the first region: a late-fusion product of caption and picture.
	firstOnly bool
}

func (g *grounding) score(x example) (float64, int) {
	best, arg := math.Inf(-1), 0
	regions := x.regions
	if g.firstOnly {
		regions = regions[:1]
	}
	for r, reg := range regions {
		s := 0.0
		for _, t := range x.tokens {
			for j, v := range reg {
				s += g.words[t][j] * float64(v)
			}
		}
		if s > best {
			best, arg = s, r
		}
	}
	return best + g.b, arg
}

func (g *grounding) predictAll(xs []example) []float64 {
	out := make([]float64, len(xs))
	for i, x := range xs {
		out[i], _ = g.score(x)
	}
	return out
}

// trainGrounding runs Adam on the log loss, one meme at a time; the
// gradient flows through the arg-max region only.
func trainGrounding(xs []example, vocabSize, dim, epochs int, firstOnly bool) *grounding {
	rng := rand.New(rand.NewPCG(7, 7))
	g := &grounding{words: make([][]float64, vocabSize), firstOnly: firstOnly}
	m, v := make([][]float64, vocabSize), make([][]float64, vocabSize)
	for i := range g.words {
		g.words[i] = make([]float64, dim)
		m[i], v[i] = make([]float64, dim), make([]float64, dim)
		for j := range g.words[i] {
			g.words[i][j] = 0.01 * rng.NormFloat64()
		}
	}
	const lr, b1, b2, eps = 0.01, 0.9, 0.999, 1e-8
	var mb, vb float64
	step := 0
	order := make([]int, len(xs))
	for i := range order {
		order[i] = i
	}
	for range epochs {
		rng.Shuffle(len(order), func(i, j int) { order[i], order[j] = order[j], order[i] })
		for _, i := range order {
			x := xs[i]
			s, r := g.score(x)
			e := sigmoid(s) - x.label
			step++
			c1, c2 := 1-math.Pow(b1, float64(step)), 1-math.Pow(b2, float64(step))
			for _, t := range x.tokens {
				for j, f := range x.regions[r] {
					gr := e * float64(f)
					m[t][j] = b1*m[t][j] + (1-b1)*gr
					v[t][j] = b2*v[t][j] + (1-b2)*gr*gr
					g.words[t][j] -= lr * (m[t][j] / c1) / (math.Sqrt(v[t][j]/c2) + eps)
				}
			}
			mb = b1*mb + (1-b1)*e
			vb = b2*vb + (1-b2)*e*e
			g.b -= lr * (mb / c1) / (math.Sqrt(vb/c2) + eps)
		}
	}
	return g
}

func sigmoid(z float64) float64 { return 1 / (1 + math.Exp(-z)) }

func dot(a, b []float64) float64 {
	s := 0.0
	for i := range a {
		s += a[i] * b[i]
	}
	return s
}

// auroc is the rank statistic (Mann–Whitney U over positives × negatives),
// counting ties as one half, as scikit-learn's roc_auc_score does.
func auroc(scores, y []float64) float64 {
	idx := make([]int, len(scores))
	for i := range idx {
		idx[i] = i
	}
	sort.Slice(idx, func(a, b int) bool { return scores[idx[a]] < scores[idx[b]] })
	rankSum, pos := 0.0, 0.0
	for i := 0; i < len(idx); {
		j := i
		for j < len(idx) && scores[idx[j]] == scores[idx[i]] {
			j++
		}
		avg := float64(i+j+1) / 2 // mean of 1-based ranks i+1..j
		for k := i; k < j; k++ {
			if y[idx[k]] == 1 {
				rankSum += avg
				pos++
			}
		}
		i = j
	}
	neg := float64(len(y)) - pos
	return (rankSum - pos*(pos+1)/2) / (pos * neg)
}

func TestAUROC(t *testing.T) {
	cases := []struct {
		s, y []float64
		want float64
	}{
		{[]float64{0.1, 0.4, 0.35, 0.8}, []float64{0, 0, 1, 1}, 0.75}, // scikit-learn's doc example
		{[]float64{1, 2, 3, 4}, []float64{0, 0, 1, 1}, 1},
		{[]float64{4, 3, 2, 1}, []float64{0, 0, 1, 1}, 0},
		{[]float64{1, 1, 1, 1}, []float64{0, 1, 0, 1}, 0.5},
		{[]float64{1, 2, 2, 3}, []float64{0, 1, 0, 1}, 0.875},
	}
	for _, c := range cases {
		if got := auroc(c.s, c.y); math.Abs(got-c.want) > 1e-12 {
			t.Errorf("auroc(%v, %v) = %v, want %v", c.s, c.y, got, c.want)
		}
	}
}
