package catalog

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"mmc/atomicfile"
	"mmc/config"
)

// Kind says how a dataset name was resolved.
type Kind int

// The ways a name resolves, in Kedro's order of precedence.
const (
	Explicit  Kind = iota // an entry of its own in catalog.yml
	Factory               // matched a dataset factory pattern
	Memory                // no entry: an in-memory dataset
	Parameter             // params:<key> or parameters
)

// String is the kind as listed by `catalog list`.
func (k Kind) String() string {
	return [...]string{"explicit", "factory", "memory", "parameter"}[k]
}

// VersionFormat is Kedro's version timestamp layout, in UTC.
const VersionFormat = "2006-01-02T15.04.05.000Z"

// NewVersion formats t as a version string.
func NewVersion(t time.Time) string { return t.UTC().Format(VersionFormat) }

// Options tune a catalog.
type Options struct {
	// SaveVersion is the version every versioned dataset saves under in
	// this run; NewVersion(time.Now()) when empty.
	SaveVersion string
	// LoadVersions pins the version loaded per dataset name (--load-versions).
	LoadVersions map[string]string
	// Formats are the dataset types "type:" may name; nil means Builtin().
	// An application passes its full list (see catalog/formats.All).
	Formats []Format
	// Credentials are the run environment's credentials.yml entries,
	// named by an entry's "credentials:" (config.Config.Credentials).
	Credentials *config.Tree
	// CacheDir is where datasets on object storage are staged; when
	// empty, $MMC_CACHE_DIR, else <user cache dir>/mmc/objects.
	CacheDir string
}

// Resolution is what a dataset name resolves to.
type Resolution struct {
	Name    string
	Kind    Kind
	Pattern string // the factory pattern, for Kind == Factory
	Spec    *Spec  // nil for memory datasets and parameters
}

// Catalog resolves dataset names and performs loads and saves. It is safe
// for concurrent use.
type Catalog struct {
	conf     *config.Tree
	params   *config.Tree
	opts     Options
	formats  formatSet
	entries  map[string]*rawEntry
	patterns []*pattern

	stores *stores // object storage buckets

	mu       sync.Mutex
	datasets map[string]Dataset
	memory   map[string]any
}

type rawEntry struct {
	key    string
	values map[string]any
	pos    config.Pos
}

type pattern struct {
	raw      string
	re       *regexp.Regexp
	fields   []string
	literals int
	entry    *rawEntry
}

// New builds a catalog from the merged catalog configuration and the
// parameters. Entries are checked for shape here; a format name is
// checked when the dataset is resolved, so an entry for a format that
// this binary lacks only fails the pipelines that use it.
func New(conf, params *config.Tree, opts Options) (*Catalog, error) {
	if conf == nil {
		conf = config.NewTree()
	}
	if params == nil {
		params = config.NewTree()
	}
	if opts.SaveVersion == "" {
		opts.SaveVersion = NewVersion(time.Now())
	}
	for name, v := range opts.LoadVersions {
		if err := checkVersion(v); err != nil {
			return nil, fmt.Errorf("--load-versions %s: %w", name, err)
		}
	}
	if opts.Formats == nil {
		opts.Formats = Builtin()
	}
	formats, err := newFormatSet(opts.Formats)
	if err != nil {
		return nil, err
	}
	if opts.CacheDir == "" {
		opts.CacheDir = defaultCacheDir()
	}
	c := &Catalog{conf: conf, params: params, opts: opts, formats: formats, entries: map[string]*rawEntry{},
		datasets: map[string]Dataset{}, memory: map[string]any{},
		stores: &stores{creds: opts.Credentials, cacheDir: opts.CacheDir}}
	var catchAll []string
	for _, key := range conf.Keys() {
		m, ok := conf.Values[key].(map[string]any)
		if !ok {
			return nil, fmt.Errorf("%s: catalog entry %q must be a mapping with a type", conf.Source(key), key)
		}
		if _, ok := m["type"].(string); !ok {
			return nil, fmt.Errorf("%s: catalog entry %q has no type (one of: %s)", conf.Source(key), key, strings.Join(c.formats.names(), ", "))
		}
		e := &rawEntry{key: key, values: m, pos: conf.Source(key)}
		if !strings.Contains(key, "{") {
			c.entries[key] = e
			continue
		}
		p, err := compilePattern(key)
		if err != nil {
			return nil, fmt.Errorf("%s: dataset factory %q: %w", e.pos, key, err)
		}
		p.entry = e
		if err := p.checkPlaceholders(); err != nil {
			return nil, fmt.Errorf("%s: dataset factory %q: %w", e.pos, key, err)
		}
		if p.literals == 0 {
			catchAll = append(catchAll, key)
		}
		c.patterns = append(c.patterns, p)
	}
	if len(catchAll) > 1 {
		return nil, fmt.Errorf("catalog has %d catch-all patterns (%s); at most one is allowed", len(catchAll), strings.Join(catchAll, ", "))
	}
	sort.SliceStable(c.patterns, func(i, j int) bool {
		a, b := c.patterns[i], c.patterns[j]
		if a.literals != b.literals {
			return a.literals > b.literals
		}
		if len(a.fields) != len(b.fields) {
			return len(a.fields) > len(b.fields)
		}
		return a.raw < b.raw
	})
	return c, nil
}

var patternField = regexp.MustCompile(`\{([A-Za-z_][A-Za-z0-9_]*)\}`)

func compilePattern(raw string) (*pattern, error) {
	p := &pattern{raw: raw}
	var re strings.Builder
	re.WriteByte('^')
	last := 0
	for _, m := range patternField.FindAllStringSubmatchIndex(raw, -1) {
		lit := raw[last:m[0]]
		if strings.ContainsAny(lit, "{}") {
			return nil, fmt.Errorf("malformed {field} in %q", lit)
		}
		p.literals += len(lit)
		re.WriteString(regexp.QuoteMeta(lit))
		re.WriteString("(.+?)")
		p.fields = append(p.fields, raw[m[2]:m[3]])
		last = m[1]
	}
	rest := raw[last:]
	if strings.ContainsAny(rest, "{}") {
		return nil, fmt.Errorf("malformed {field} in %q", rest)
	}
	p.literals += len(rest)
	re.WriteString(regexp.QuoteMeta(rest))
	re.WriteByte('$')
	var err error
	p.re, err = regexp.Compile(re.String())
	return p, err
}

// checkPlaceholders reports every {field} that the pattern's config uses
// (in filepath, nested load_args/save_args, list items, any string value)
// but its name does not declare: it could never be filled, and would stay
// as literal text in a path (Kedro rejects it the same way).
func (p *pattern) checkPlaceholders() error {
	var bad []string
	var walk func(path string, v any)
	walk = func(path string, v any) {
		switch v := v.(type) {
		case map[string]any:
			for _, k := range sortedKeys(v) {
				walk(path+"."+k, v[k])
			}
		case []any:
			for i, x := range v {
				walk(fmt.Sprintf("%s[%d]", path, i), x)
			}
		case string:
			for _, m := range patternField.FindAllStringSubmatch(v, -1) {
				if !slices.Contains(p.fields, m[1]) {
					bad = append(bad, fmt.Sprintf("{%s} in %s", m[1], path[1:]))
				}
			}
		}
	}
	walk("", p.entry.values)
	if len(bad) == 0 {
		return nil
	}
	declared := "none"
	if len(p.fields) > 0 {
		declared = "{" + strings.Join(p.fields, "}, {") + "}"
	}
	return fmt.Errorf("placeholders not declared in the pattern: %s (the pattern declares %s)", strings.Join(bad, ", "), declared)
}

func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func (p *pattern) match(name string) (map[string]string, bool) {
	m := p.re.FindStringSubmatch(name)
	if m == nil {
		return nil, false
	}
	out := make(map[string]string, len(p.fields))
	for i, f := range p.fields {
		out[f] = m[i+1]
	}
	return out, true
}

// Patterns lists the factory patterns in match priority order.
func (c *Catalog) Patterns() []string {
	out := make([]string, len(c.patterns))
	for i, p := range c.patterns {
		out[i] = p.raw
	}
	return out
}

// Names lists the explicit entries, sorted.
func (c *Catalog) Names() []string {
	out := make([]string, 0, len(c.entries))
	for n := range c.entries {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// Params is the parameter tree the catalog serves params: names from.
func (c *Catalog) Params() *config.Tree { return c.params }

// SaveVersion is the version versioned datasets save under in this run.
func (c *Catalog) SaveVersion() string { return c.opts.SaveVersion }

// Resolve says how name resolves: explicit entry, factory pattern (in
// ranking order), parameter, or in-memory.
func (c *Catalog) Resolve(name string) (Resolution, error) {
	if key, ok := IsParam(name); ok {
		if key != "" {
			if _, found := c.params.Get(key); !found {
				return Resolution{}, fmt.Errorf("parameter %q not found in the parameters%s", key, config.DidYouMean(key, c.paramKeys()))
			}
		}
		return Resolution{Name: name, Kind: Parameter}, nil
	}
	if e, ok := c.entries[name]; ok {
		spec, err := c.buildSpec(name, e, nil)
		return memoryIfTyped(Resolution{Name: name, Kind: Explicit, Spec: spec}), err
	}
	for _, p := range c.patterns {
		if vals, ok := p.match(name); ok {
			spec, err := c.buildSpec(name, p.entry, vals)
			return memoryIfTyped(Resolution{Name: name, Kind: Factory, Pattern: p.raw, Spec: spec}), err
		}
	}
	return Resolution{Name: name, Kind: Memory}, nil
}

// memoryIfTyped turns an entry of "type: memory" into an in-memory
// resolution that keeps its spec (for metadata such as the layer).
func memoryIfTyped(r Resolution) Resolution {
	if r.Spec != nil && r.Spec.Type == "memory" {
		r.Kind = Memory
	}
	return r
}

func (c *Catalog) paramKeys() []string {
	var keys []string
	for p := range c.params.Sources {
		keys = append(keys, p)
	}
	sort.Strings(keys)
	return keys
}

func (c *Catalog) buildSpec(name string, e *rawEntry, vals map[string]string) (*Spec, error) {
	m := substitute(e.values, vals).(map[string]any)
	s := &Spec{Name: name, Pos: e.pos, Conf: c.conf, Key: e.key, Extra: map[string]any{}}
	for k, v := range m {
		var ok bool
		switch k {
		case "type":
			s.Type, ok = v.(string)
		case "filepath":
			s.Filepath, ok = v.(string)
		case "load_args":
			s.LoadArgs, ok = v.(map[string]any)
		case "save_args":
			s.SaveArgs, ok = v.(map[string]any)
		case "versioned":
			s.Versioned, ok = v.(bool)
		case "metadata":
			s.Metadata, ok = v.(map[string]any)
		default:
			s.Extra[k], ok = v, true
		}
		if !ok && v != nil {
			return nil, fmt.Errorf("%s: dataset %q: %s has the wrong type (%T)", c.conf.Source(e.key+"."+k), name, k, v)
		}
	}
	f, ok := c.formats[s.Type]
	if !ok {
		known := c.formats.names()
		return nil, fmt.Errorf("%s: dataset %q: unknown dataset type %q%s (known: %s)", c.conf.Source(e.key+".type"), name, s.Type, config.DidYouMean(s.Type, known), strings.Join(known, ", "))
	}
	if f.NeedsFilepath && s.Filepath == "" {
		return nil, fmt.Errorf("%s: dataset %q: type %s needs a filepath", e.pos, name, s.Type)
	}
	if s.Versioned && s.Filepath == "" {
		return nil, fmt.Errorf("%s: dataset %q: versioned needs a filepath", e.pos, name)
	}
	return s, nil
}

func substitute(v any, vals map[string]string) any {
	switch v := v.(type) {
	case map[string]any:
		m := make(map[string]any, len(v))
		for k, x := range v {
			m[k] = substitute(x, vals)
		}
		return m
	case []any:
		s := make([]any, len(v))
		for i, x := range v {
			s[i] = substitute(x, vals)
		}
		return s
	case string:
		if vals == nil {
			return v
		}
		return patternField.ReplaceAllStringFunc(v, func(ph string) string {
			if r, ok := vals[ph[1:len(ph)-1]]; ok {
				return r
			}
			return ph
		})
	}
	return v
}

// Check validates, before a run, that name can hold data of type t: a
// parameter decodes strictly into t, a configured format exists, accepts
// t and builds from its entry.
func (c *Catalog) Check(name string, t reflect.Type) error {
	res, err := c.Resolve(name)
	if err != nil {
		return err
	}
	switch res.Kind {
	case Parameter:
		key, _ := IsParam(name)
		if _, err := config.CheckDecodable(c.params, key, t); err != nil {
			return err
		}
		return nil
	case Memory:
		return nil
	}
	f := c.formats[res.Spec.Type]
	if f.Accepts != nil {
		if err := f.Accepts(t); err != nil {
			return fmt.Errorf("%s: dataset %q: type %s %v", res.Spec.Pos, name, res.Spec.Type, err)
		}
	}
	_, err = c.dataset(name)
	return err
}

// dataset returns (building once) the dataset behind a persisted name.
func (c *Catalog) dataset(name string) (Dataset, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if ds, ok := c.datasets[name]; ok {
		return ds, nil
	}
	res, err := c.Resolve(name)
	if err != nil {
		return nil, err
	}
	if res.Kind == Memory || res.Spec == nil {
		return nil, nil
	}
	f := c.formats[res.Spec.Type]
	var ds Dataset
	if res.Spec.Versioned {
		ds, err = newVersioned(*res.Spec, f, c.stores, c.opts.SaveVersion, c.opts.LoadVersions[name])
	} else if IsRemote(res.Spec.Filepath) {
		ds, err = newRemote(*res.Spec, f, c.stores)
	} else {
		ds, err = f.New(*res.Spec)
	}
	if err != nil {
		return nil, fmt.Errorf("%s: dataset %q (type %s): %w", res.Spec.Pos, name, res.Spec.Type, err)
	}
	c.datasets[name] = ds
	return ds, nil
}

// Load reads a dataset as a value of type t.
func (c *Catalog) Load(ctx context.Context, name string, t reflect.Type) (any, error) {
	if key, ok := IsParam(name); ok {
		if key == "" && (t.Kind() == reflect.Interface || t == reflect.TypeFor[map[string]any]()) {
			return c.params.Clone().Values, nil
		}
		v, err := config.CheckDecodable(c.params, key, t)
		if err != nil {
			return nil, fmt.Errorf("load %s: %w", name, err)
		}
		return v, nil
	}
	ds, err := c.dataset(name)
	if err != nil {
		return nil, err
	}
	if ds == nil {
		c.mu.Lock()
		v, ok := c.memory[name]
		c.mu.Unlock()
		if !ok {
			return nil, fmt.Errorf("load in-memory dataset %q: nothing was saved to it in this run (it has no catalog entry, so it is not read from disk)", name)
		}
		return v, nil
	}
	c.cleanStale(name)
	v, err := ds.Load(ctx, t)
	if err != nil {
		return nil, fmt.Errorf("load dataset %q (%s): %w", name, ds.Describe(), err)
	}
	if v != nil && !reflect.TypeOf(v).AssignableTo(t) {
		return nil, fmt.Errorf("load dataset %q (%s): format returned %T, want %v", name, ds.Describe(), v, t)
	}
	return v, nil
}

// cleanStale removes the temporaries that killed saves of a file-backed
// dataset left beside it (saves remove them too, in atomicfile); those
// of a live writer stay. Failing to clean is not the load's concern.
func (c *Catalog) cleanStale(name string) {
	res, err := c.Resolve(name)
	if err != nil || res.Spec == nil || res.Spec.Versioned || res.Spec.Filepath == "" || strings.Contains(res.Spec.Filepath, "://") {
		return
	}
	atomicfile.CleanStale(res.Spec.Filepath)
}

// Save writes v to a dataset; saving nil is an error, as in Kedro.
func (c *Catalog) Save(ctx context.Context, name string, v any) error {
	if v == nil {
		return fmt.Errorf("save dataset %q: saving nil is not allowed", name)
	}
	if _, ok := IsParam(name); ok {
		return fmt.Errorf("save dataset %q: parameters are read-only", name)
	}
	ds, err := c.dataset(name)
	if err != nil {
		return err
	}
	if ds == nil {
		c.mu.Lock()
		c.memory[name] = v
		c.mu.Unlock()
		return nil
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("save dataset %q: %w", name, err)
	}
	if err := ds.Save(ctx, v); err != nil {
		return fmt.Errorf("save dataset %q (%s): %w", name, ds.Describe(), err)
	}
	return nil
}

// Exists reports whether a dataset has data: a file for persisted
// datasets, a value saved in this run for in-memory ones; parameters
// always exist.
func (c *Catalog) Exists(name string) (bool, error) {
	if _, ok := IsParam(name); ok {
		return true, nil
	}
	ds, err := c.dataset(name)
	if err != nil {
		return false, err
	}
	if ds == nil {
		c.mu.Lock()
		_, ok := c.memory[name]
		c.mu.Unlock()
		return ok, nil
	}
	return ds.Exists()
}

// IsPersistent reports whether a dataset survives the run (it has a
// catalog entry or matches a factory); parameters count as persistent.
func (c *Catalog) IsPersistent(name string) bool {
	res, err := c.Resolve(name)
	return err == nil && res.Kind != Memory
}

// Release drops an in-memory dataset's value once no node needs it.
func (c *Catalog) Release(name string) {
	c.mu.Lock()
	delete(c.memory, name)
	c.mu.Unlock()
}

// Describe is a one-line description of how name resolves.
func (c *Catalog) Describe(name string) string {
	res, err := c.Resolve(name)
	if err != nil {
		return "error: " + err.Error()
	}
	switch res.Kind {
	case Memory:
		return "memory"
	case Parameter:
		return "parameters"
	}
	d := res.Spec.Type
	if res.Spec.Filepath != "" {
		d += " " + res.Spec.Filepath
	}
	if res.Spec.Versioned {
		d += " (versioned)"
	}
	return d
}

func checkVersion(v string) error {
	if v == "" || strings.Contains(v, "/") || strings.Contains(v, "..") || strings.ContainsRune(v, os.PathSeparator) {
		return fmt.Errorf("unsafe version %q", v)
	}
	if _, err := time.Parse(VersionFormat, v); err != nil {
		return fmt.Errorf("version %q is not in the form %s", v, VersionFormat)
	}
	return nil
}

// versioned keeps one Kedro-layout versioned dataset:
// <filepath>/<version>/<basename(filepath)>, on disk or in a bucket.
type versioned struct {
	spec        Spec
	format      Format
	stores      *stores // for a filepath on object storage
	saveVersion string
	loadVersion string
	mu          sync.Mutex
	saved       bool
}

func newVersioned(s Spec, f Format, st *stores, save, load string) (*versioned, error) {
	v := &versioned{spec: s, format: f, stores: st, saveVersion: save, loadVersion: load}
	// Build once now so that bad arguments fail before the run.
	if _, err := v.at(save); err != nil {
		return nil, err
	}
	return v, nil
}

func (v *versioned) remote() bool { return IsRemote(v.spec.Filepath) }

// pathAt is the file of one version.
func (v *versioned) pathAt(version string) string {
	if v.remote() {
		r, err := parseRemote(v.spec.Filepath)
		if err == nil {
			return remoteJoin(r, version+"/"+path.Base(r.key))
		}
	}
	return filepath.Join(v.spec.Filepath, version, filepath.Base(v.spec.Filepath))
}

func (v *versioned) at(version string) (Dataset, error) {
	s := v.spec
	s.Filepath = v.pathAt(version)
	if v.remote() {
		return newRemote(s, v.format, v.stores)
	}
	return v.format.New(s)
}

// versions lists the version folders that hold the dataset's file.
func (v *versioned) versions() ([]string, error) {
	var versions []string
	if v.remote() {
		all, err := v.stores.subfolders(context.Background(), v.spec)
		if err != nil {
			return nil, err
		}
		for _, ver := range all {
			if checkVersion(ver) != nil {
				continue
			}
			ds, err := v.at(ver)
			if err != nil {
				return nil, err
			}
			if ok, err := ds.Exists(); err != nil {
				return nil, err
			} else if ok {
				versions = append(versions, ver)
			}
		}
		return versions, nil
	}
	matches, _ := filepath.Glob(filepath.Join(v.spec.Filepath, "*", filepath.Base(v.spec.Filepath)))
	for _, m := range matches {
		ver := filepath.Base(filepath.Dir(m))
		if checkVersion(ver) == nil {
			versions = append(versions, ver)
		}
	}
	return versions, nil
}

// resolveLoad picks the pinned version, this run's save, or the latest.
func (v *versioned) resolveLoad() (string, error) {
	v.mu.Lock()
	saved := v.saved
	v.mu.Unlock()
	switch {
	case v.loadVersion != "":
		return v.loadVersion, nil
	case saved:
		return v.saveVersion, nil
	}
	versions, err := v.versions()
	if err != nil {
		return "", err
	}
	if len(versions) == 0 {
		return "", fmt.Errorf("no version of %s found (looked for %s)", v.spec.Name, v.pathAt("<version>"))
	}
	sort.Strings(versions)
	return versions[len(versions)-1], nil
}

func (v *versioned) Load(ctx context.Context, t reflect.Type) (any, error) {
	ver, err := v.resolveLoad()
	if err != nil {
		return nil, err
	}
	ds, err := v.at(ver)
	if err != nil {
		return nil, err
	}
	return ds.Load(ctx, t)
}

func (v *versioned) Save(ctx context.Context, data any) error {
	ds, err := v.at(v.saveVersion)
	if err != nil {
		return err
	}
	exists := false
	if v.remote() {
		exists, _ = ds.Exists()
	} else {
		_, err := os.Stat(v.pathAt(v.saveVersion))
		exists = err == nil
	}
	if exists {
		return fmt.Errorf("save path %s must not exist when versioning is enabled", v.pathAt(v.saveVersion))
	}
	if err := ds.Save(ctx, data); err != nil {
		return err
	}
	v.mu.Lock()
	v.saved = true
	v.mu.Unlock()
	return nil
}

func (v *versioned) Exists() (bool, error) {
	ver, err := v.resolveLoad()
	if err != nil {
		return false, nil
	}
	ds, err := v.at(ver)
	if err != nil {
		return false, err
	}
	return ds.Exists()
}

func (v *versioned) Describe() string {
	return fmt.Sprintf("%s %s (versioned)", v.spec.Type, v.spec.Filepath)
}

// defaultCacheDir is $MMC_CACHE_DIR, else <user cache dir>/mmc/objects,
// else a folder under the system temporary directory.
func defaultCacheDir() string {
	if d := os.Getenv("MMC_CACHE_DIR"); d != "" {
		return d
	}
	if d, err := os.UserCacheDir(); err == nil {
		return filepath.Join(d, "mmc", "objects")
	}
	return filepath.Join(os.TempDir(), "mmc-objects")
}

// ErrNotFound is wrapped by formats when the data to load is absent.
var ErrNotFound = errors.New("not found")
