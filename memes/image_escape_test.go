package memes

import (
	"bytes"
	"image"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestImageSymlinkEscape is issue 16 item 12 (memes): an image path
// inside img/ that is a symbolic link leading out of the image root
// (img/) is refused like a "../" path, by LoadImage and CheckImages
// alike; links that stay inside, and a data set folder or an img/ that is
// itself a link (data on another disk), still work.
func TestImageSymlinkEscape(t *testing.T) {
	base := t.TempDir()
	root := filepath.Join(base, "hateful_memes")
	outside := filepath.Join(base, "outside")
	elsewhere := filepath.Join(base, "disk2", "img")
	for _, d := range []string{filepath.Join(root, "img", "sub"), outside, elsewhere} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	var good bytes.Buffer
	if err := png.Encode(&good, image.NewGray(image.Rect(0, 0, 2, 2))); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{filepath.Join(root, "img", "00001.png"), filepath.Join(outside, "secret.png"), filepath.Join(root, "other.png"), filepath.Join(elsewhere, "00009.png")} {
		if err := os.WriteFile(p, good.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	links := map[string]string{
		"img/up.png":       "../../outside/secret.png",              // relative, out
		"img/abs.png":      filepath.Join(outside, "secret.png"),    // absolute, out
		"img/dir":          outside,                                 // a directory out
		"img/sub/deep.png": "../../../outside/secret.png",           // from a subfolder, out
		"img/dangling.png": filepath.Join(outside, "missing.png"),   // out, and missing
		"img/same.png":     "00001.png",                             // inside
		"img/sub/back.png": "../00001.png",                          // inside
		"img/self":         ".",                                     // inside, a directory
		"img/chain.png":    "up.png",                                // inside, to a link out
		"img/loop.png":     "loop.png",                              // a loop
		"img/rootlink.png": filepath.Join(root, "img", "00001.png"), // absolute, but inside
		"img/sibling.png":  "../other.png",                          // inside the data set, out of img/
		"img2":             elsewhere,                               // an image folder elsewhere
	}
	for name, target := range links {
		if err := os.Symlink(target, filepath.Join(root, filepath.FromSlash(name))); err != nil {
			t.Fatal(err)
		}
	}
	linkedRoot := filepath.Join(base, "memes_link")
	if err := os.Symlink(root, linkedRoot); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		img  string
		want string // "" loads
	}{
		{"img/00001.png", ""},
		{"img/same.png", ""},
		{"img/sub/back.png", ""},
		{"img/self/00001.png", ""},
		{"img2/00009.png", ""},
		{"img/sibling.png", "escapes the image root"},
		{"img2/../other.png", "escapes the image root"},
		{"img/up.png", "escapes the image root"},
		{"img/abs.png", "escapes the image root"},
		{"img/dir/secret.png", "escapes the image root"},
		{"img/sub/deep.png", "escapes the image root"},
		{"img/dangling.png", "escapes the image root"},
		{"img/chain.png", "escapes the image root"},
		// An absolute link is refused even when it points back inside:
		// os.Root does not know where the root lies on disk.
		{"img/rootlink.png", "escapes the image root"},
		{"img/loop.png", "too many levels of symbolic links"},
		{"../outside/secret.png", "escapes the image root"},
	}
	for _, r := range []string{root, linkedRoot} {
		for _, c := range cases {
			m := Meme{ID: "42", Img: c.img}
			_, err := m.Image(r)
			errs := CheckImages(r, []Meme{m})
			if c.want == "" {
				if err != nil || errs != nil {
					t.Errorf("root %s, %s: LoadImage %v, CheckImages %v", r, c.img, err, errs)
				}
				continue
			}
			if err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), "meme 42") || !strings.Contains(err.Error(), c.img) {
				t.Errorf("root %s, %s: LoadImage error %v, want %q naming the meme and path", r, c.img, err, c.want)
			}
			if len(errs) != 1 || !strings.Contains(errs[0].Error(), c.want) {
				t.Errorf("root %s, %s: CheckImages %v, want %q", r, c.img, errs, c.want)
			}
		}
	}
}
