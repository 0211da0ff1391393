// Package extract is the image feature extractor registry. An Extractor
// turns a batch of decoded images into region records
// (features.Record: features, boxes, image size, optional classes); the
// extract_features node (nodes.ExtractFeatures) runs any of them over a
// meme folder into a feature store that records the extractor's name and
// parameters.
//
// An extractor is registered by being a field of Params: the field's
// yaml key is the extractor's name, its type holds the extractor's
// parameters (decoded strictly from extract.<name> in parameters.yml)
// and implements Kind. Adding an extractor is one new file in this
// package (its parameter type, New and the Extractor) plus that one
// field; synthetic.go is the complete example.
package extract

import (
	"context"
	"encoding/json"
	"fmt"
	"image"
	"reflect"
	"strings"

	"mmc/features"
)

// Image is one decoded picture to extract regions from.
type Image struct {
	// ID is the feature store key: the image file's stem (MMF's
	// feature_path), which the training pipelines look features up by.
	ID string
	// Path is the image as the meme's img field names it, relative to
	// the folder root.
	Path   string
	Pixels *image.RGBA // opaque RGB, as memes.LoadImage decodes it
}

// Extractor computes region features. It need not be safe for
// concurrent use: the node calls it from one goroutine.
type Extractor interface {
	// Extract returns one record per image, in order, each with ID set
	// to its image's ID and ImageW/ImageH to the picture's size.
	Extract(ctx context.Context, batch []Image) ([]*features.Record, error)
	// MaxRegions is the most regions one image can yield; stores pad
	// every image to it.
	MaxRegions() int
}

// Kind is one extractor's parameters: it builds the extractor they
// describe.
type Kind interface {
	// Doc is a one-line description.
	Doc() string
	// New builds the extractor for the images of the folder at root.
	New(root string) (Extractor, error)
}

// Params selects and configures the extractor (…→ extract in
// parameters.yml). Every field whose type implements Kind is a
// registered extractor, named by its yaml key.
type Params struct {
	// Name is the extractor: the yaml key of one of the fields below.
	Name string `yaml:"name" json:"name"`
	// Splits are the meme folder's splits whose images are extracted;
	// empty means every split. An image shared by splits is extracted once.
	Splits []string `yaml:"splits" json:"-"`
	// BatchSize is the number of images decoded and extracted together
	// (0 means 8).
	BatchSize int `yaml:"batch_size" json:"-"`

	// Synthetic is the synthetic detector (synth), for the synthetic set.
	Synthetic Synthetic `yaml:"synthetic" json:"synthetic"`

	// The vision backbones (ml/vision), see vision.go.
	ResNet152Grid    ResNet152Grid    `yaml:"resnet152_grid" json:"resnet152_grid"`
	ResNet152RoI     ResNet152RoI     `yaml:"resnet152_roi" json:"resnet152_roi"`
	ResNetVG         ResNetVG         `yaml:"resnet_vg" json:"resnet_vg"`
	DINOv2           DINOv2           `yaml:"dinov2" json:"dinov2"`
	DINOv2Multilayer DINOv2Multilayer `yaml:"dinov2_multilayer" json:"dinov2_multilayer"`

	// The Faster R-CNN detectors (ml/vision/detect), see detect.go.
	FRCNN          FRCNN          `yaml:"frcnn" json:"frcnn"`
	FRCNNResNet152 FRCNNResNet152 `yaml:"frcnn_resnet152" json:"frcnn_resnet152"`
	VG             VG             `yaml:"vg" json:"vg"`
	VGRPN          VGRPN          `yaml:"vg_rpn" json:"vg_rpn"`
}

// Selected returns the extractor p.Name names, with p's parameters.
func (p Params) Selected() (Kind, error) {
	v := reflect.ValueOf(p)
	for i := range v.NumField() {
		k, ok := v.Field(i).Interface().(Kind)
		if ok && fieldName(v.Type().Field(i)) == p.Name {
			return k, nil
		}
	}
	return nil, fmt.Errorf("extractor %q unknown (want one of %s)", p.Name, strings.Join(Names(), ", "))
}

// Names lists the registered extractors in declaration order.
func Names() []string {
	t := reflect.TypeFor[Params]()
	kind := reflect.TypeFor[Kind]()
	var names []string
	for i := range t.NumField() {
		if t.Field(i).Type.Implements(kind) {
			names = append(names, fieldName(t.Field(i)))
		}
	}
	return names
}

func fieldName(f reflect.StructField) string {
	name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
	return name
}

// Provenance returns the name and the parameters (as a JSON object) a
// feature store records, so that a store made with other parameters is
// recognisable as such.
func (p Params) Provenance() (string, map[string]any, error) {
	k, err := p.Selected()
	if err != nil {
		return "", nil, err
	}
	b, err := json.Marshal(k)
	if err != nil {
		return "", nil, fmt.Errorf("extractor %s parameters: %w", p.Name, err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		return "", nil, fmt.Errorf("extractor %s parameters: %w", p.Name, err)
	}
	return p.Name, m, nil
}

// Regions is a stream of records a feature store consumes one at a
// time (what nodes.ExtractFeatures returns; the region-feature catalog
// formats accept it).
type Regions interface {
	// Len is the number of records Each yields.
	Len() int
	// Each calls fn for every record in order, stopping at its first error.
	Each(fn func(*features.Record) error) error
}
