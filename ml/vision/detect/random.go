package detect

import (
	"math"
	"math/rand/v2"
	"strconv"

	"mmc/ml/checkpoint"
	"mmc/ml/vision"
)

// Random detectors stand in for the real checkpoints on machines without
// them (demo runs, tests, benchmarks): the same key layout and code path,
// randomly initialised, with class scores spread wide enough that some
// detections pass a 0.2 threshold.

type randInit struct {
	rng *rand.Rand
	sd  checkpoint.StateDict
}

func (r randInit) tensor(key string, std float64, shape ...int) {
	n := 1
	for _, d := range shape {
		n *= d
	}
	w := make([]float32, n)
	for i := range w {
		w[i] = float32(r.rng.NormFloat64() * std)
	}
	r.sd[key] = &checkpoint.Array{Shape: shape, Data: w}
}

func (r randInit) conv(prefix string, out, in, k int, std float64) {
	if std == 0 {
		std = math.Sqrt(2 / float64(in*k*k))
	}
	r.tensor(prefix+".weight", std, out, in, k, k)
	r.tensor(prefix+".bias", 0.01, out)
}

func (r randInit) linear(prefix string, out, in int, std float64) {
	if std == 0 {
		std = math.Sqrt(2 / float64(in))
	}
	r.tensor(prefix+".weight", std, out, in)
	r.tensor(prefix+".bias", 0.01, out)
}

// FPNArch sizes a random torchvision-layout Faster R-CNN FPN.
type FPNArch struct {
	Trunk      vision.ResNetArch
	FPNWidth   int // 256 in the COCO model
	Rep        int // box head width: 1024
	NumClasses int // with background: 91
}

// DemoFPNArch is the small random detector of demo runs.
var DemoFPNArch = FPNArch{Trunk: vision.DemoResNetArch, FPNWidth: 32, Rep: 128, NumClasses: 11}

// RandomFPNStateDict returns random weights in fasterrcnn_resnet50_fpn's
// key layout for arch.
func RandomFPNStateDict(arch FPNArch, seed uint64) checkpoint.StateDict {
	sd := checkpoint.StateDict{}
	arch.Trunk.Layout = vision.Torchvision
	for k, v := range vision.RandomResNetStateDict(arch.Trunk, seed) {
		sd["backbone.body."+k] = v
	}
	r := randInit{rng: rand.New(rand.NewPCG(seed, 11)), sd: sd}
	f := arch.FPNWidth
	for i := 0; i < 4; i++ {
		is := strconv.Itoa(i)
		c := arch.Trunk.OutChannels(i + 1)
		r.conv("backbone.fpn.inner_blocks."+is+".0", f, c, 1, math.Sqrt(1/float64(c)))
		r.conv("backbone.fpn.layer_blocks."+is+".0", f, f, 3, math.Sqrt(1/float64(9*f)))
	}
	r.conv("rpn.head.conv.0.0", f, f, 3, 0)
	r.conv("rpn.head.cls_logits", 3, f, 1, 0)
	r.conv("rpn.head.bbox_pred", 12, f, 1, 0.01)
	r.linear("roi_heads.box_head.fc6", arch.Rep, f*49, 0)
	r.linear("roi_heads.box_head.fc7", arch.Rep, arch.Rep, 0)
	r.linear("roi_heads.box_predictor.cls_score", arch.NumClasses, arch.Rep, 3*math.Sqrt(2/float64(arch.Rep)))
	r.linear("roi_heads.box_predictor.bbox_pred", 4*arch.NumClasses, arch.Rep, 0.01)
	return sd
}

// C4Arch sizes a random caffe-style (Visual Genome layout) Faster R-CNN.
type C4Arch struct {
	Trunk      vision.ResNetArch
	RPNWidth   int // 512 in the VG model
	NumClasses int // with background: 1601
}

// DemoC4Arch is the small random VG-layout detector of demo runs.
var DemoC4Arch = C4Arch{Trunk: vision.DemoResNetArch, RPNWidth: 64, NumClasses: 21}

// RandomC4StateDict returns random weights in faster_rcnn_res101_vg.pth's
// key layout for arch (12 anchors, class-specific boxes).
func RandomC4StateDict(arch C4Arch, seed uint64) checkpoint.StateDict {
	arch.Trunk.Layout = vision.CaffeVG
	sd := vision.RandomResNetStateDict(arch.Trunk, seed)
	r := randInit{rng: rand.New(rand.NewPCG(seed, 12)), sd: sd}
	c4, c5 := arch.Trunk.OutChannels(3), arch.Trunk.OutChannels(4)
	r.conv("RCNN_rpn.RPN_Conv", arch.RPNWidth, c4, 3, 0)
	r.conv("RCNN_rpn.RPN_cls_score", 24, arch.RPNWidth, 1, 0)
	r.conv("RCNN_rpn.RPN_bbox_pred", 48, arch.RPNWidth, 1, 0.01)
	r.linear("RCNN_cls_score", arch.NumClasses, c5, 3*math.Sqrt(2/float64(c5)))
	r.linear("RCNN_bbox_pred", 4*arch.NumClasses, c5, 0.01)
	return sd
}
