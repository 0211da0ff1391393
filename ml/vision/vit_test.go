package vision

import (
	"fmt"
	"strings"
	"testing"
)

func TestViTMatchesDINOv2(t *testing.T) {
	for _, reg := range []int{0, 4} {
		t.Run(fmt.Sprintf("registers=%d", reg), func(t *testing.T) {
			v, err := LoadViT(loadSD(t, fmt.Sprintf("dinov2_reg%d.pth", reg)))
			if err != nil {
				t.Fatal(err)
			}
			wantArch := ViTArch{Width: 128, Depth: 2, Heads: 2, Patch: 14, Registers: reg, MLP: 512, PosGrid: 8,
				InterpOffset: map[bool]float64{true: 0, false: 0.1}[reg > 0], InterpAntialias: reg > 0}
			if v.Arch != wantArch {
				t.Fatalf("inferred %v, want %v", v.Arch, wantArch)
			}
			p := fmt.Sprintf("dino%d.", reg)
			x := want(t, "dino.x")
			var ws ViTWorkspace
			closeTo(t, "pos_embed", v.posEmbed(&ws, 9, 7, false), want(t, p+"pos_embed").Data, 1e-5)
			out, err := v.Forward(&ws, x.Data, x.Shape[1], x.Shape[2], []int{2}, true)
			if err != nil {
				t.Fatal(err)
			}
			if out.HP != 18 || out.WP != 17 {
				t.Fatalf("patch grid %d×%d, want 18×17", out.HP, out.WP)
			}
			tokens := want(t, p+"tokens")
			closeTo(t, "final tokens", out.Blocks[0], tokens.Data[(1+reg)*128:], 1e-4)
			closeTo(t, "cls attention", out.CLSAttention, want(t, p+"cls_attn").Data, 1e-4)
		})
	}
}

func TestViTLoadErrors(t *testing.T) {
	for _, tc := range []struct {
		name, drop, key string
	}{
		{"no fc2", "blocks.1.mlp.fc2.weight", "blocks.1.mlp.fc2.weight"},
		{"no cls", "cls_token", "cls_token"},
		{"no norm", "norm.bias", "norm.bias"},
	} {
		sd := loadSD(t, "dinov2_reg0.pth")
		delete(sd, tc.drop)
		if _, err := LoadViT(sd); err == nil || !strings.Contains(err.Error(), tc.key) {
			t.Errorf("%s: error %v does not name %q", tc.name, err, tc.key)
		}
	}
	sd := loadSD(t, "dinov2_reg0.pth")
	sd["blocks.0.attn.qkv.weight"].Shape = []int{128, 384}
	if _, err := LoadViT(sd); err == nil || !strings.Contains(err.Error(), "blocks.0.attn.qkv.weight") {
		t.Errorf("transposed qkv: %v", err)
	}
	v, err := LoadViT(RandomViTStateDict(64, 1, 14, 4, 0, 1))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := v.Forward(&ViTWorkspace{}, make([]float32, 3*50*56), 50, 56, nil, false); err == nil {
		t.Error("input not a multiple of the patch accepted")
	}
}
