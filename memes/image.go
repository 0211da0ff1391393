package memes

import (
	"bytes"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/draw"
	_ "image/jpeg" // Hateful Memes has JPEG data behind some .png names
	_ "image/png"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
)

// MaxImagePixels bounds width×height of an image before its pixels are
// decoded, so a corrupt or hostile header cannot make the decoder
// allocate gigabytes. Real memes are well under a megapixel or two.
const MaxImagePixels = 64 << 20

// LoadImage reads the image img (a path relative to root, as in a split
// file's "img" field) and returns it as opaque 8-bit RGB in an
// *image.RGBA whose alpha is always 255.
//
// Conversion follows PIL's Image.convert("RGB"), which MMF and
// torchvision use: grayscale is replicated to three channels, palette
// entries are looked up, and an alpha channel is dropped, not composited
// (the stored straight colour is kept, so a transparent pixel keeps the
// colour it was saved with). 16-bit samples keep their high byte.
// The format is sniffed from the content, not the file name. img must
// stay inside root: neither "../" nor a symbolic link may lead out of it.
func LoadImage(root, img string) (*image.RGBA, error) {
	f, path, err := openInRoot(root, img)
	if err != nil {
		return nil, err
	}
	data, err := io.ReadAll(f)
	f.Close()
	if err != nil {
		return nil, fmt.Errorf("image %s: %w", path, err)
	}
	rgb, err := DecodeImage(data)
	if err != nil {
		return nil, fmt.Errorf("image %s: %w", path, err)
	}
	return rgb, nil
}

// Image loads the meme's picture from root (the folder holding img/);
// errors name the meme id and the file.
func (m Meme) Image(root string) (*image.RGBA, error) {
	rgb, err := LoadImage(root, m.Img)
	if err != nil {
		return nil, fmt.Errorf("meme %s: %w", m.ID, err)
	}
	return rgb, nil
}

// DecodeImage decodes PNG or JPEG bytes into opaque RGB, as LoadImage.
func DecodeImage(data []byte) (*image.RGBA, error) {
	cfg, format, err := image.DecodeConfig(bytes.NewReader(data))
	if err != nil {
		return nil, fmt.Errorf("decode header: %w", err)
	}
	if err := checkSize(cfg); err != nil {
		return nil, fmt.Errorf("%s: %w", format, err)
	}
	src, _, err := image.Decode(bytes.NewReader(data))
	if err != nil {
		return nil, fmt.Errorf("decode %s: %w", format, err)
	}
	return toRGB(src), nil
}

func checkSize(cfg image.Config) error {
	if cfg.Width <= 0 || cfg.Height <= 0 {
		return fmt.Errorf("empty image %d×%d", cfg.Width, cfg.Height)
	}
	if int64(cfg.Width)*int64(cfg.Height) > MaxImagePixels {
		return fmt.Errorf("image %d×%d exceeds %d pixels", cfg.Width, cfg.Height, MaxImagePixels)
	}
	return nil
}

// toRGB converts any decoded image to an opaque RGBA at origin (0,0),
// with fast paths for the types the PNG and JPEG decoders return.
func toRGB(src image.Image) *image.RGBA {
	b := src.Bounds()
	w, h := b.Dx(), b.Dy()
	dst := image.NewRGBA(image.Rect(0, 0, w, h))
	switch s := src.(type) {
	case *image.NRGBA:
		for y := 0; y < h; y++ {
			copyDropAlpha(dst.Pix[y*dst.Stride:y*dst.Stride+4*w], s.Pix[s.PixOffset(b.Min.X, b.Min.Y+y):])
		}
		return dst
	case *image.RGBA:
		if s.Opaque() {
			for y := 0; y < h; y++ {
				copy(dst.Pix[y*dst.Stride:y*dst.Stride+4*w], s.Pix[s.PixOffset(b.Min.X, b.Min.Y+y):])
			}
			return dst
		}
	case *image.YCbCr:
		return ycbcrToRGB(s)
	case *image.Gray:
		draw.Draw(dst, dst.Bounds(), src, b.Min, draw.Src)
		return dst
	case *image.Paletted:
		var lut [256][4]uint8
		for i := range lut {
			lut[i][3] = 255 // an index past the palette reads as opaque black
		}
		for i, c := range s.Palette {
			n := color.NRGBAModel.Convert(c).(color.NRGBA)
			lut[i] = [4]uint8{n.R, n.G, n.B, 255}
		}
		for y := 0; y < h; y++ {
			row := s.Pix[s.PixOffset(b.Min.X, b.Min.Y+y):]
			out := dst.Pix[y*dst.Stride:]
			for x := 0; x < w; x++ {
				copy(out[4*x:4*x+4], lut[row[x]][:])
			}
		}
		return dst
	}
	// Everything else (16-bit, CMYK, premultiplied with alpha): go
	// through straight (non-premultiplied) 16-bit colour.
	for y := 0; y < h; y++ {
		out := dst.Pix[y*dst.Stride:]
		for x := 0; x < w; x++ {
			c := color.NRGBA64Model.Convert(src.At(b.Min.X+x, b.Min.Y+y)).(color.NRGBA64)
			out[4*x], out[4*x+1], out[4*x+2], out[4*x+3] = uint8(c.R>>8), uint8(c.G>>8), uint8(c.B>>8), 255
		}
	}
	return dst
}

func copyDropAlpha(dst, src []byte) {
	for i := 0; i+3 < len(dst); i += 4 {
		dst[i], dst[i+1], dst[i+2], dst[i+3] = src[i], src[i+1], src[i+2], 255
	}
}

// CheckImages verifies that every meme's image exists under root, stays
// inside it (also through symbolic links) and has a readable PNG or JPEG header with a sane size. It
// reads only the headers (pixel data is decoded at load time) and
// returns one error per bad meme, in input order, instead of stopping at
// the first; nil means all images passed.
func CheckImages(root string, ms []Meme) []error {
	var errs []error
	for _, m := range ms {
		if err := checkImage(root, m.Img); err != nil {
			errs = append(errs, fmt.Errorf("meme %s: %w", m.ID, err))
		}
	}
	return errs
}

func checkImage(root, img string) error {
	f, path, err := openInRoot(root, img)
	if err != nil {
		return err
	}
	defer f.Close()
	cfg, format, err := image.DecodeConfig(io.LimitReader(f, 1<<20))
	if err != nil {
		if errors.Is(err, image.ErrFormat) {
			return fmt.Errorf("image %s: not a PNG or JPEG file", path)
		}
		return fmt.Errorf("image %s: %w", path, err)
	}
	if err := checkSize(cfg); err != nil {
		return fmt.Errorf("image %s (%s): %w", path, format, err)
	}
	return nil
}

// openInRoot opens the image img (a slash path relative to root) and
// returns it with its path for messages. The image root is the folder
// img names first (root/img for "img/42.png"; it may itself be a link,
// as when a data set's img/ lives on another disk). A path that leaves
// it is refused: lexically ("../", absolute) or through a symbolic link
// below it (one to an absolute path included), checked by the kernel as
// the file is opened (os.Root), so a link swapped in between a check and
// the open cannot lead out either.
func openInRoot(root, img string) (*os.File, string, error) {
	local := filepath.FromSlash(img)
	path := filepath.Join(root, local)
	if !filepath.IsLocal(local) {
		return nil, path, fmt.Errorf("image %q: path escapes the image root %s", img, root)
	}
	imgRoot, rel := root, local
	if top, rest, ok := strings.Cut(filepath.ToSlash(filepath.Clean(local)), "/"); ok {
		imgRoot, rel = filepath.Join(root, top), filepath.FromSlash(rest)
	}
	r, err := os.OpenRoot(imgRoot)
	if err != nil {
		return nil, path, fmt.Errorf("image: open %s: %w", path, err)
	}
	defer r.Close()
	f, err := r.Open(rel)
	if err == nil {
		return f, path, nil
	}
	var pe *fs.PathError
	if errors.As(err, &pe) {
		// os.Root refuses an escape with an error of its own; failures
		// of the system call itself (missing file, permission) are
		// errnos and keep their usual message.
		var errno syscall.Errno
		if !errors.As(pe.Err, &errno) {
			return nil, path, fmt.Errorf("image %q: path escapes the image root %s through a symbolic link (%s)", img, imgRoot, path)
		}
		err = &fs.PathError{Op: "open", Path: path, Err: pe.Err}
	}
	return nil, path, fmt.Errorf("image: %w", err)
}
