package vision

import (
	"strings"
	"testing"
)

func TestResNetMatchesTorchvision(t *testing.T) {
	x := want(t, "resnet.x")
	in := Shape{1, x.Shape[0], x.Shape[1], x.Shape[2]}
	for _, tc := range []struct {
		file   string
		layout Layout
		arch   ResNetArch
		outs   map[int]string
	}{
		{"resnet_bottleneck.pth", Torchvision, ResNetArch{Layers: [4]int{2, 1, 2, 1}, Bottleneck: true, Width: 8, Layout: Torchvision},
			map[int]string{3: "resnet.bottleneck.layer3", 4: "resnet.bottleneck.layer4"}},
		{"resnet_basic.pth", Torchvision, ResNetArch{Layers: [4]int{1, 2, 1, 1}, Width: 8, Layout: Torchvision},
			map[int]string{4: "resnet.basic.layer4"}},
		{"resnet_vg.pth", CaffeVG, ResNetArch{Layers: [4]int{1, 2, 1, 1}, Bottleneck: true, Width: 8, Layout: CaffeVG},
			map[int]string{3: "resnet.vg.layer3", 4: "resnet.vg.layer4"}},
	} {
		t.Run(tc.file, func(t *testing.T) {
			r, err := LoadResNet(loadSD(t, tc.file), tc.layout)
			if err != nil {
				t.Fatal(err)
			}
			if r.Arch != tc.arch {
				t.Fatalf("inferred %v, want %v", r.Arch, tc.arch)
			}
			var ws Workspace
			for last, key := range tc.outs {
				got, sh := r.Forward(&ws, x.Data, in, 0, last)
				w := want(t, key)
				if sh.C != w.Shape[0] || sh.H != w.Shape[1] || sh.W != w.Shape[2] {
					t.Fatalf("%s: shape %v, torch %v", key, sh, w.Shape)
				}
				closeTo(t, key, got[:sh.Len()], w.Data, 1e-5)
			}
			// stages run piecewise give the same result
			base, sh := r.Forward(&ws, x.Data, in, 0, 3)
			base = append([]float32(nil), base[:sh.Len()]...)
			top, sh := r.Forward(&ws, base, sh, 4, 4)
			closeTo(t, "layer4 after layer3", top[:sh.Len()], want(t, tc.outs[4]).Data, 1e-5)
		})
	}
}

func TestResNetDepthInference(t *testing.T) {
	for _, tc := range []struct {
		arch  ResNetArch
		depth int
	}{
		{ResNetArch{Layers: [4]int{3, 8, 36, 3}, Bottleneck: true, Width: 4}, 152},
		{ResNetArch{Layers: [4]int{3, 4, 23, 3}, Bottleneck: true, Width: 4, Layout: CaffeVG}, 101},
		{ResNetArch{Layers: [4]int{3, 4, 6, 3}, Width: 4}, 34},
		{ResNetArch{Layers: [4]int{2, 2, 2, 2}, Width: 4}, 18},
	} {
		r, err := LoadResNet(RandomResNetStateDict(tc.arch, 1), tc.arch.Layout)
		if err != nil {
			t.Fatal(err)
		}
		if r.Arch != tc.arch || r.Arch.Depth() != tc.depth {
			t.Errorf("inferred %v (depth %d), want %v (depth %d)", r.Arch, r.Arch.Depth(), tc.arch, tc.depth)
		}
	}
}

func TestResNetLoadErrorsNameTheKey(t *testing.T) {
	sd := loadSD(t, "resnet_bottleneck.pth")
	for _, tc := range []struct {
		name   string
		mutate func()
		key    string
	}{
		{"missing bn", func() { delete(sd, "layer2.0.bn2.running_var") }, "layer2.0.bn2.running_var"},
		{"truncated tensor", func() { a := sd["layer3.1.conv2.weight"]; a.Data = a.Data[:len(a.Data)/2] }, "layer3.1.conv2.weight"},
		{"wrong shape", func() { a := sd["layer1.0.conv2.weight"]; a.Shape = []int{a.Shape[0], a.Shape[1] * 9, 1, 1} }, "layer1.0.conv2.weight"},
		{"no stage", func() {
			for k := range sd {
				if strings.HasPrefix(k, "layer4.") {
					delete(sd, k)
				}
			}
		}, "layer4.0.conv1.weight"},
	} {
		sd = loadSD(t, "resnet_bottleneck.pth")
		tc.mutate()
		_, err := LoadResNet(sd, Torchvision)
		if err == nil || !strings.Contains(err.Error(), tc.key) {
			t.Errorf("%s: error %v does not name %q", tc.name, err, tc.key)
		}
	}
	// a torchvision file read as the VG layout says which key is missing
	if _, err := LoadResNet(loadSD(t, "resnet_bottleneck.pth"), CaffeVG); err == nil || !strings.Contains(err.Error(), "RCNN_base.0.weight") {
		t.Errorf("layout mismatch: %v", err)
	}
}
