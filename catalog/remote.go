package catalog

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"reflect"
	"slices"
	"sort"
	"strings"
	"sync"

	"gocloud.dev/blob"
	"gocloud.dev/blob/fileblob"
	"gocloud.dev/gcerrors"

	"mmc/config"
)

// Object storage. A dataset whose filepath is a URL (s3://bucket/key,
// gs://bucket/key, azblob://container/key, file:///abs/dir/key) lives in
// a bucket, reached through gocloud.dev/blob. Every format works there
// unchanged: loading stages the object (or every object under key/, for
// a folder such as a meme folder or an LMDB directory) into a local
// cache directory keyed by the objects' ETags, and hands the format the
// local path; saving lets the format write into a fresh local folder,
// uploads each file to a temporary key and copies it to its final key,
// then deletes the temporary keys: a reader never sees a half-uploaded
// object. Files the format writes beside its path (a checkpoint's JSON
// sidecar) travel with it, as objects beside the key.
//
// Credentials come from the entry's "credentials: <name>", an entry of
// the run environment's credentials.yml (conf/local/ by default), or,
// without it, from the environment (AWS_ACCESS_KEY_ID, …,
// GOOGLE_APPLICATION_CREDENTIALS, AZURE_STORAGE_ACCOUNT, …).

// IsRemote reports whether a filepath is an object storage URL.
func IsRemote(filepath string) bool {
	scheme, _, ok := strings.Cut(filepath, "://")
	return ok && scheme != "" && !strings.ContainsAny(scheme, `/\.`)
}

// remoteURL is a parsed object storage filepath.
type remoteURL struct {
	raw    string
	scheme string
	bucket string     // bucket, container, or for file:// the directory
	key    string     // object key, without leading '/'
	query  url.Values // opener options (region, endpoint, …)
}

func parseRemote(raw string) (remoteURL, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return remoteURL{}, fmt.Errorf("filepath %q: %w", raw, err)
	}
	r := remoteURL{raw: raw, scheme: u.Scheme, bucket: u.Host, key: strings.TrimPrefix(u.Path, "/"), query: u.Query()}
	switch r.scheme {
	case "s3", "gs", "azblob":
		if r.bucket == "" {
			return r, fmt.Errorf("filepath %q has no bucket: want %s://bucket/key", raw, r.scheme)
		}
	case "file":
		// file:///abs/dir/key: the bucket is the directory, the key the base name.
		if u.Host != "" && u.Host != "localhost" {
			return r, fmt.Errorf("filepath %q: a file URL has no host (file:///absolute/path)", raw)
		}
		dir, base := path.Split(u.Path)
		r.bucket, r.key = filepath.FromSlash(path.Clean(dir)), base
	default:
		return r, fmt.Errorf("filepath %q: object storage scheme %q is not supported (s3, gs, azblob or file)", raw, r.scheme)
	}
	if r.key == "" || strings.HasSuffix(r.key, "/") {
		return r, fmt.Errorf("filepath %q names no object: want %s://bucket/path/to/data", raw, r.scheme)
	}
	for _, part := range strings.Split(r.key, "/") {
		if part == ".." || part == "." || part == "" {
			return r, fmt.Errorf("filepath %q: '.', '..' and empty parts (//) are not allowed in an object key", raw)
		}
	}
	return r, nil
}

// stores opens and keeps one bucket per (URL bucket, credentials) for
// a catalog.
type stores struct {
	creds    *config.Tree
	cacheDir string
	mu       sync.Mutex
	open     map[string]*blob.Bucket
}

// bucketKey identifies an opened bucket.
func (r remoteURL) bucketKey(credName string) string {
	return r.scheme + "://" + r.bucket + "?" + r.query.Encode() + "#" + credName
}

// credentials returns the named entry of credentials.yml, or nil.
func (s *stores) credentials(name string) (map[string]any, error) {
	if name == "" {
		return nil, nil
	}
	if s.creds != nil {
		if m, ok := s.creds.Values[name].(map[string]any); ok {
			return m, nil
		}
	}
	var known []string
	if s.creds != nil {
		known = s.creds.Keys()
	}
	return nil, fmt.Errorf("credentials %q not found: add it to conf/local/credentials.yml (or the --env's credentials.yml)%s", name, config.DidYouMean(name, known))
}

func (s *stores) bucket(ctx context.Context, r remoteURL, credName string) (*blob.Bucket, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	k := r.bucketKey(credName)
	if b, ok := s.open[k]; ok {
		return b, nil
	}
	cred, err := s.credentials(credName)
	if err != nil {
		return nil, err
	}
	var b *blob.Bucket
	switch r.scheme {
	case "s3":
		b, err = openS3(ctx, r, cred)
	case "gs":
		b, err = openGCS(ctx, r, cred)
	case "azblob":
		b, err = openAzure(ctx, r, cred)
	case "file":
		if err = os.MkdirAll(r.bucket, 0o755); err == nil {
			b, err = fileblob.OpenBucket(r.bucket, &fileblob.Options{NoTempDir: true})
		}
	}
	if err != nil {
		return nil, fmt.Errorf("open bucket %s://%s: %w", r.scheme, r.bucket, err)
	}
	if s.open == nil {
		s.open = map[string]*blob.Bucket{}
	}
	s.open[k] = b
	return b, nil
}

// credString reads a string credential under any of its names.
func credString(cred map[string]any, names ...string) string {
	for _, n := range names {
		if v, ok := cred[n]; ok && v != nil {
			return fmt.Sprint(v)
		}
	}
	return ""
}

// checkCredKeys reports a key of a credentials entry that the scheme
// does not know, so a misspelled key is not silently ignored.
func checkCredKeys(cred map[string]any, scheme string, known ...string) error {
	for k := range cred {
		if !slices.Contains(known, k) {
			return fmt.Errorf("%s credentials: unknown key %q%s (known: %s)", scheme, k, config.DidYouMean(k, known), strings.Join(known, ", "))
		}
	}
	return nil
}

// remoteDataset is a format's dataset staged through a local cache.
type remoteDataset struct {
	url      remoteURL
	credName string
	spec     Spec // the entry; Filepath is replaced by the local path
	format   Format
	stores   *stores
}

func newRemote(s Spec, f Format, st *stores) (*remoteDataset, error) {
	r, err := parseRemote(s.Filepath)
	if err != nil {
		return nil, err
	}
	d := &remoteDataset{url: r, spec: s, format: f, stores: st}
	if c, ok := s.Extra["credentials"]; ok {
		name, isStr := c.(string)
		if !isStr {
			return nil, fmt.Errorf("credentials must name an entry of conf/local/credentials.yml, not %T", c)
		}
		if _, err := st.credentials(name); err != nil {
			return nil, err
		}
		d.credName = name
	}
	// Build the format once on a local path so bad arguments fail
	// before the run, as for local files.
	if _, err := d.inner(filepath.Join(st.cacheDir, "check", path.Base(r.key))); err != nil {
		return nil, err
	}
	return d, nil
}

func (d *remoteDataset) inner(local string) (Dataset, error) {
	s := d.spec
	s.Filepath = local
	s.Extra = make(map[string]any, len(d.spec.Extra))
	for k, v := range d.spec.Extra {
		if k != "credentials" {
			s.Extra[k] = v
		}
	}
	return d.format.New(s)
}

func (d *remoteDataset) Describe() string { return d.spec.Type + " " + d.url.raw }

// object is one stored object of the dataset and its version tag.
type object struct {
	key string
	tag string // ETag, or MD5/size/time from a listing
}

// parentKey is the key's folder ("" at the bucket's root).
func (d *remoteDataset) parentKey() string {
	if i := strings.LastIndex(d.url.key, "/"); i >= 0 {
		return d.url.key[:i]
	}
	return ""
}

func joinKey(parent, rel string) string {
	if parent == "" {
		return rel
	}
	return parent + "/" + rel
}

// objects lists what the dataset consists of: the object at key and the
// objects beside it sharing its stem (best.safetensors, best.json), or
// every object under key/ for a folder. Empty when nothing is there.
func (d *remoteDataset) objects(ctx context.Context, b *blob.Bucket) (objs []object, folder bool, err error) {
	attrs, err := b.Attributes(ctx, d.url.key)
	switch {
	case err == nil:
		objs = append(objs, object{key: d.url.key, tag: attrs.ETag + fmt.Sprintf("/%d/%d", attrs.Size, attrs.ModTime.UnixNano())})
		base := path.Base(d.url.key)
		stem := strings.TrimSuffix(base, path.Ext(base)) + "."
		prefix := joinKey(d.parentKey(), stem)
		it := b.List(&blob.ListOptions{Prefix: prefix, Delimiter: "/"})
		for {
			o, err := it.Next(ctx)
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				return nil, false, fmt.Errorf("list %s: %w", d.url.raw, err)
			}
			if o.IsDir || o.Key == d.url.key || isTempKey(o.Key) {
				continue
			}
			objs = append(objs, object{key: o.Key, tag: listTag(o)})
		}
		return objs, false, nil
	case gcerrors.Code(err) != gcerrors.NotFound:
		return nil, false, fmt.Errorf("stat %s: %w", d.url.raw, err)
	}
	it := b.List(&blob.ListOptions{Prefix: d.url.key + "/"})
	for {
		o, err := it.Next(ctx)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, false, fmt.Errorf("list %s/: %w", d.url.raw, err)
		}
		if o.IsDir || isTempKey(o.Key) {
			continue
		}
		objs = append(objs, object{key: o.Key, tag: listTag(o)})
	}
	return objs, true, nil
}

func listTag(o *blob.ListObject) string {
	return fmt.Sprintf("%x/%d/%d", o.MD5, o.Size, o.ModTime.UnixNano())
}

// tempMarker is the folder of in-flight uploads; listings skip it.
const tempMarker = ".mmc-upload-"

func isTempKey(k string) bool { return strings.Contains(k, tempMarker) }

func (d *remoteDataset) Exists() (bool, error) {
	ctx := context.Background()
	b, err := d.stores.bucket(ctx, d.url, d.credName)
	if err != nil {
		return false, err
	}
	objs, _, err := d.objects(ctx, b)
	return len(objs) > 0, err
}

// stage downloads the dataset into the cache (once per version) and
// returns the local path the format reads.
func (d *remoteDataset) stage(ctx context.Context) (string, error) {
	b, err := d.stores.bucket(ctx, d.url, d.credName)
	if err != nil {
		return "", err
	}
	objs, folder, err := d.objects(ctx, b)
	if err != nil {
		return "", err
	}
	if len(objs) == 0 {
		return "", fmt.Errorf("%s: no object at this key nor under %s/: %w", d.url.raw, d.url.key, ErrNotFound)
	}
	sort.Slice(objs, func(i, j int) bool { return objs[i].key < objs[j].key })
	h := sha256.New()
	fmt.Fprintf(h, "%s\n", d.url.raw)
	for _, o := range objs {
		fmt.Fprintf(h, "%s %s\n", o.key, o.tag)
	}
	sum := hex.EncodeToString(h.Sum(nil))[:24]
	dir := filepath.Join(d.stores.cacheDir, urlDir(d.url), sum)
	local := filepath.Join(dir, filepath.FromSlash(path.Base(d.url.key)))
	if _, err := os.Stat(filepath.Join(dir, ".complete")); err == nil {
		return local, nil
	}
	if err := os.MkdirAll(filepath.Dir(dir), 0o755); err != nil {
		return "", fmt.Errorf("object cache: %w", err)
	}
	tmp, err := os.MkdirTemp(filepath.Dir(dir), ".staging-")
	if err != nil {
		return "", fmt.Errorf("object cache: %w", err)
	}
	defer os.RemoveAll(tmp)
	parent := d.parentKey()
	for _, o := range objs {
		rel := strings.TrimPrefix(o.key, joinKey(parent, ""))
		if parent == "" {
			rel = o.key
		}
		if !folder && strings.Contains(rel, "/") {
			continue
		}
		dst := filepath.Join(tmp, filepath.FromSlash(rel))
		if !strings.HasPrefix(dst, tmp+string(filepath.Separator)) {
			return "", fmt.Errorf("%s: object key %q leaves the dataset's folder", d.url.raw, o.key)
		}
		if err := download(ctx, b, o.key, dst); err != nil {
			return "", fmt.Errorf("download %s://%s/%s: %w", d.url.scheme, d.url.bucket, o.key, err)
		}
	}
	if err := os.WriteFile(filepath.Join(tmp, ".complete"), nil, 0o644); err != nil {
		return "", err
	}
	if err := os.Rename(tmp, dir); err != nil {
		// Another run staged the same version meanwhile: use it.
		if _, serr := os.Stat(filepath.Join(dir, ".complete")); serr == nil {
			return local, nil
		}
		return "", fmt.Errorf("object cache: %w", err)
	}
	return local, nil
}

// urlDir is the cache folder of one URL: readable, and unique by hash.
func urlDir(r remoteURL) string {
	h := sha256.Sum256([]byte(r.raw))
	name := strings.NewReplacer("/", "_", "\\", "_", ":", "_").Replace(r.scheme + "_" + r.bucket + "_" + r.key)
	if len(name) > 80 {
		name = name[len(name)-80:]
	}
	return name + "-" + hex.EncodeToString(h[:6])
}

func download(ctx context.Context, b *blob.Bucket, key, dst string) error {
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return err
	}
	f, err := os.Create(dst)
	if err != nil {
		return err
	}
	if err := b.Download(ctx, key, f, nil); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func (d *remoteDataset) Load(ctx context.Context, t reflect.Type) (any, error) {
	local, err := d.stage(ctx)
	if err != nil {
		return nil, err
	}
	ds, err := d.inner(local)
	if err != nil {
		return nil, err
	}
	return ds.Load(ctx, t)
}

// Save lets the format write into a fresh local folder, then uploads.
func (d *remoteDataset) Save(ctx context.Context, v any) error {
	b, err := d.stores.bucket(ctx, d.url, d.credName)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(d.stores.cacheDir, 0o755); err != nil {
		return fmt.Errorf("object cache: %w", err)
	}
	tmp, err := os.MkdirTemp(d.stores.cacheDir, ".save-")
	if err != nil {
		return fmt.Errorf("object cache: %w", err)
	}
	defer os.RemoveAll(tmp)
	base := path.Base(d.url.key)
	ds, err := d.inner(filepath.Join(tmp, base))
	if err != nil {
		return err
	}
	if err := ds.Save(ctx, v); err != nil {
		return err
	}
	var rels []string
	err = filepath.WalkDir(tmp, func(p string, e fs.DirEntry, err error) error {
		if err != nil || e.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(tmp, p)
		rels = append(rels, filepath.ToSlash(rel))
		return nil
	})
	if err != nil {
		return err
	}
	if len(rels) == 0 {
		return fmt.Errorf("%s: the format wrote nothing to upload", d.url.raw)
	}
	// The dataset's own file first, then what it wrote beside it (a
	// sidecar describes weights that are already there).
	sort.SliceStable(rels, func(i, j int) bool { return rels[i] == base && rels[j] != base })
	var nonce [6]byte
	rand.Read(nonce[:])
	parent := d.parentKey()
	staging := joinKey(parent, tempMarker+hex.EncodeToString(nonce[:]))
	defer func() {
		for _, rel := range rels {
			b.Delete(context.WithoutCancel(ctx), staging+"/"+rel)
		}
	}()
	for _, rel := range rels {
		if err := upload(ctx, b, filepath.Join(tmp, filepath.FromSlash(rel)), staging+"/"+rel); err != nil {
			return fmt.Errorf("upload %s: %w", joinKey(parent, rel), err)
		}
	}
	for _, rel := range rels {
		if err := b.Copy(ctx, joinKey(parent, rel), staging+"/"+rel, nil); err != nil {
			return fmt.Errorf("copy %s into place: %w", joinKey(parent, rel), err)
		}
	}
	return nil
}

func upload(ctx context.Context, b *blob.Bucket, src, key string) error {
	f, err := os.Open(src)
	if err != nil {
		return err
	}
	defer f.Close()
	return b.Upload(ctx, key, f, &blob.WriterOptions{ContentType: "application/octet-stream"})
}

// remoteJoin is the URL of rel below r's key, query kept.
func remoteJoin(r remoteURL, rel string) string {
	base, query, _ := strings.Cut(r.raw, "?")
	out := strings.TrimSuffix(base, "/") + "/" + rel
	if query != "" {
		out += "?" + query
	}
	return out
}

// subfolders lists the folder names directly under a spec's URL (the
// versions of a versioned dataset).
func (s *stores) subfolders(ctx context.Context, spec Spec) ([]string, error) {
	r, err := parseRemote(spec.Filepath)
	if err != nil {
		return nil, err
	}
	cred, _ := spec.Extra["credentials"].(string)
	b, err := s.bucket(ctx, r, cred)
	if err != nil {
		return nil, err
	}
	var out []string
	it := b.List(&blob.ListOptions{Prefix: r.key + "/", Delimiter: "/"})
	for {
		o, err := it.Next(ctx)
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return nil, fmt.Errorf("list %s/: %w", r.raw, err)
		}
		if o.IsDir {
			out = append(out, strings.TrimSuffix(strings.TrimPrefix(o.Key, r.key+"/"), "/"))
		}
	}
}
