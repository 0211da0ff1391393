package formats

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"

	"mmc/atomicfile"
	"mmc/catalog"
	"mmc/partition"
)

const metaSuffix = ".meta.json"

var binderType = reflect.TypeFor[partition.Binder]()

// Partitioned is the "partitioned" catalog format (Kedro's
// PartitionedDataset idea): a folder holding one file per partition,
// each stored in the format the entry's "dataset" names. Handles have
// type partition.Parts[T]; loading lists the partitions and loads each
// on demand; saving writes the partitions the value holds and leaves
// the others, so shards of one node (`run --shard i/n`) each add theirs.
//
//	extracted_feature_parts:
//	  type: partitioned
//	  filepath: data/03_features/extracted/parts
//	  dataset: {type: hdf5_features, save_args: {compression: -1}}
//	  filename_suffix: .h5
//
// inner lists the formats a partition may use (all of mmc's).
func Partitioned(inner []catalog.Format) catalog.Format {
	return catalog.Format{
		Name:          "partitioned",
		Doc:           "a folder of partitions (one file each, in the format of `dataset`) as partition.Parts[T]; saving adds partitions",
		NeedsFilepath: true,
		Accepts: func(t reflect.Type) error {
			if reflect.PointerTo(t).Implements(binderType) {
				return nil
			}
			return fmt.Errorf("supports partition.Parts[T], not %v", t)
		},
		New: func(s catalog.Spec) (catalog.Dataset, error) { return newPartitioned(s, inner) },
	}
}

type partitionedDataset struct {
	dir    string
	suffix string
	inner  catalog.Spec
	format catalog.Format
}

func newPartitioned(s catalog.Spec, inner []catalog.Format) (*partitionedDataset, error) {
	for k := range s.Extra {
		if k != "dataset" && k != "filename_suffix" && k != "credentials" {
			return nil, fmt.Errorf("dataset %q: unknown key %q for type partitioned (dataset, filename_suffix)", s.Name, k)
		}
	}
	d := &partitionedDataset{dir: s.Filepath}
	if v, ok := s.Extra["filename_suffix"]; ok {
		str, isStr := v.(string)
		if !isStr || strings.ContainsAny(str, `/\`) {
			return nil, fmt.Errorf("dataset %q: filename_suffix must be a file extension such as .h5", s.Name)
		}
		d.suffix = str
	}
	var m map[string]any
	switch v := s.Extra["dataset"].(type) {
	case string:
		m = map[string]any{"type": v}
	case map[string]any:
		m = v
	default:
		return nil, fmt.Errorf("dataset %q: type partitioned needs `dataset: <type>` or `dataset: {type: …, save_args: …}`", s.Name)
	}
	typ, _ := m["type"].(string)
	for _, f := range inner {
		if f.Name == typ && typ != "partitioned" && typ != "memory" {
			d.format = f
		}
	}
	if d.format.New == nil {
		return nil, fmt.Errorf("dataset %q: partition type %q is not a file format", s.Name, typ)
	}
	d.inner = catalog.Spec{Name: s.Name, Type: typ, Pos: s.Pos, Conf: s.Conf, Key: s.Key + ".dataset", Extra: map[string]any{}}
	for k, v := range m {
		switch k {
		case "type":
		case "load_args":
			d.inner.LoadArgs, _ = v.(map[string]any)
		case "save_args":
			d.inner.SaveArgs, _ = v.(map[string]any)
		default:
			return nil, fmt.Errorf("dataset %q: unknown key dataset.%s (type, load_args, save_args)", s.Name, k)
		}
	}
	// Check the partition's arguments now, as for any entry.
	if _, err := d.part("check"); err != nil {
		return nil, err
	}
	return d, nil
}

func (d *partitionedDataset) part(id string) (catalog.Dataset, error) {
	s := d.inner
	s.Filepath = filepath.Join(d.dir, id+d.suffix)
	return d.format.New(s)
}

// ids lists the partitions in the folder.
func (d *partitionedDataset) ids() ([]string, error) {
	entries, err := os.ReadDir(d.dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var ids []string
	for _, e := range entries {
		name := e.Name()
		if strings.HasPrefix(name, ".") || strings.HasSuffix(name, metaSuffix) || !strings.HasSuffix(name, d.suffix) {
			continue
		}
		ids = append(ids, strings.TrimSuffix(name, d.suffix))
	}
	sort.Strings(ids)
	return ids, nil
}

func (d *partitionedDataset) Load(_ context.Context, t reflect.Type) (any, error) {
	ids, err := d.ids()
	if err != nil {
		return nil, err
	}
	if len(ids) == 0 {
		return nil, fmt.Errorf("no partitions in %s: %w", d.dir, catalog.ErrNotFound)
	}
	meta := map[string]map[string]any{}
	for _, id := range ids {
		b, err := os.ReadFile(filepath.Join(d.dir, id+metaSuffix))
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		var m map[string]any
		if err == nil {
			err = json.Unmarshal(b, &m)
		}
		if err != nil {
			return nil, fmt.Errorf("partition %s metadata: %w", id, err)
		}
		meta[id] = m
	}
	p := reflect.New(t)
	b := p.Interface().(partition.Binder)
	elem := b.Elem()
	b.Bind(ids, meta, func(ctx context.Context, id string) (any, error) {
		ds, err := d.part(id)
		if err != nil {
			return nil, err
		}
		v, err := ds.Load(ctx, elem)
		if err != nil {
			return nil, fmt.Errorf("partition %s: %w", id, err)
		}
		return v, nil
	})
	return p.Elem().Interface(), nil
}

func (d *partitionedDataset) Save(ctx context.Context, v any) error {
	parts, ok := v.(partition.Erased)
	if !ok {
		return fmt.Errorf("partitioned dataset %s saves partition.Parts[T], not %T", d.dir, v)
	}
	if len(parts.IDs()) == 0 {
		return fmt.Errorf("partitioned dataset %s: no partition to save", d.dir)
	}
	for _, id := range parts.IDs() {
		if id == "" || strings.ContainsAny(id, `/\`) || strings.HasPrefix(id, ".") {
			return fmt.Errorf("partitioned dataset %s: bad partition id %q", d.dir, id)
		}
		val, err := parts.Value(ctx, id)
		if err != nil {
			return err
		}
		ds, err := d.part(id)
		if err != nil {
			return err
		}
		if err := os.MkdirAll(d.dir, 0o755); err != nil {
			return err
		}
		if err := ds.Save(ctx, val); err != nil {
			return fmt.Errorf("partition %s: %w", id, err)
		}
		metaPath := filepath.Join(d.dir, id+metaSuffix)
		if m := parts.Meta(id); m != nil {
			b, err := json.MarshalIndent(m, "", "  ")
			if err != nil {
				return fmt.Errorf("partition %s metadata: %w", id, err)
			}
			if err := atomicfile.WriteBytes(metaPath, b); err != nil {
				return err
			}
		} else if err := os.Remove(metaPath); err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
	}
	return nil
}

func (d *partitionedDataset) Exists() (bool, error) {
	ids, err := d.ids()
	return len(ids) > 0, err
}

func (d *partitionedDataset) Describe() string {
	return fmt.Sprintf("partitioned %s (%s%s)", d.dir, d.inner.Type, d.suffix)
}
