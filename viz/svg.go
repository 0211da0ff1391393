package viz

import (
	"bufio"
	"fmt"
	"html"
	"io"
	"strings"
)

// RenderSVG writes g laid out by ComputeLayout as a standalone SVG image,
// drawn as the web page draws it: layer bands, curved edges with arrows,
// and boxes coloured by kind (in-memory data dashed). Useful for reports
// and for viewing a graph without a browser.
func RenderSVG(w io.Writer, g Graph, opt LayoutOptions) error {
	r, err := resolve(g)
	if err != nil {
		return err
	}
	lay, err := r.layout(opt)
	if err != nil {
		return err
	}
	bw := bufio.NewWriter(w)
	fmt.Fprintf(bw, `<svg xmlns="http://www.w3.org/2000/svg" width="%g" height="%g" viewBox="0 0 %g %g" font-family="sans-serif" font-size="12">`+"\n",
		lay.Width, lay.Height, lay.Width, lay.Height)
	bw.WriteString(`<defs><marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" orient="auto"><path d="M0,0 L10,5 L0,10 z" fill="#8d99a6"/></marker></defs>` + "\n")
	fmt.Fprintf(bw, `<rect width="%g" height="%g" fill="#f6f7f9"/>`+"\n", lay.Width, lay.Height)
	for i, b := range lay.Bands {
		fill := "#eef1f5"
		if i%2 == 1 {
			fill = "#f8f9fb"
		}
		fmt.Fprintf(bw, `<rect x="%g" y="0" width="%g" height="%g" fill="%s" stroke="#d7dce2"/>`+"\n", b.X, b.W, lay.Height, fill)
		fmt.Fprintf(bw, `<text x="%g" y="16" fill="#7a8694">%s</text>`+"\n", b.X+8, html.EscapeString(strings.ToUpper(b.Layer)))
	}
	for _, p := range lay.Paths {
		fmt.Fprintf(bw, `<path d="%s" fill="none" stroke="#8d99a6" stroke-width="1.3" marker-end="url(#arrow)"/>`+"\n", curvePath(p.Points))
	}
	for _, b := range lay.Boxes {
		fill, stroke, dash, rx := "#dbe8f7", "#3b6ea8", "", 4.0
		switch b.Kind {
		case KindData:
			fill, stroke, rx = "#eef5e9", "#4f8a3c", b.H/2
			if r.dataset(r.items[r.byID[b.ID]]).InMemory {
				fill, dash = "#ffffff", ` stroke-dasharray="4 3"`
			}
		case KindParameters:
			fill, stroke, dash = "#fdf6e3", "#b58900", ` stroke-dasharray="2 2"`
		case KindModularPipeline:
			fill, stroke, dash, rx = "#ece6f5", "#6a4c93", ` stroke-width="2"`, 8
		}
		fmt.Fprintf(bw, `<g transform="translate(%g,%g)"><rect width="%g" height="%g" rx="%g" fill="%s" stroke="%s"%s/>`,
			b.X, b.Y, b.W, b.H, rx, fill, stroke, dash)
		fmt.Fprintf(bw, `<text x="%g" y="%g" text-anchor="middle" fill="#1d2733">%s</text></g>`+"\n", b.W/2, b.H/2+4, html.EscapeString(b.Name))
	}
	bw.WriteString("</svg>\n")
	return bw.Flush()
}

// curvePath joins points with cubic segments whose tangents are
// horizontal at each point, as the web page does.
func curvePath(pts []Point) string {
	var b strings.Builder
	fmt.Fprintf(&b, "M%.1f,%.1f", pts[0].X, pts[0].Y)
	for i := 1; i < len(pts); i++ {
		p, q := pts[i-1], pts[i]
		dx := (q.X - p.X) / 2
		fmt.Fprintf(&b, " C%.1f,%.1f %.1f,%.1f %.1f,%.1f", p.X+dx, p.Y, q.X-dx, q.Y, q.X, q.Y)
	}
	return b.String()
}
