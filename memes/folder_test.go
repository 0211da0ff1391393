package memes

import "testing"

func FuzzParseMemeLine(f *testing.F) {
	f.Add([]byte(`{"id": 1, "img": "img/00001.png", "label": 1, "text": "x"}`))
	f.Add([]byte(`{"id": "01", "img": "a", "text": ""}`))
	f.Add([]byte(`{"id": 1, "img": "a", "text": "", "label": null}`))
	f.Add([]byte(`[1,2]`))
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := ParseLine(b)
		if err != nil {
			return
		}
		if m.ID == "" || m.Img == "" {
			t.Fatalf("accepted a meme without id or img: %q", b)
		}
		if m.Label != nil && *m.Label != 0 && *m.Label != 1 {
			t.Fatalf("accepted label %d", *m.Label)
		}
	})
}
