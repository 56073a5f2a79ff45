// Package blob reads and writes the pipeline's Cloud Storage objects and
// names them (DESIGN.md "Cloud Storage").
package blob

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"path"
	"strings"
	"unicode"
	"unicode/utf8"

	"cloud.google.com/go/storage"
)

// ErrNotExist is returned when an object does not exist.
var ErrNotExist = errors.New("object does not exist")

// ErrTooLarge is returned by ReadAll when an object exceeds its limit.
var ErrTooLarge = errors.New("object too large")

// Store wraps a storage client.
type Store struct {
	client *storage.Client
}

// New returns a Store on client.
func New(client *storage.Client) *Store { return &Store{client: client} }

// Attrs describes an object.
type Attrs struct {
	Bucket      string
	Name        string
	Generation  int64
	Size        int64
	ContentType string
}

// Stat returns the attributes of the live generation of an object.
func (s *Store) Stat(ctx context.Context, bucket, name string) (Attrs, error) {
	a, err := s.client.Bucket(bucket).Object(name).Attrs(ctx)
	if errors.Is(err, storage.ErrObjectNotExist) {
		return Attrs{}, fmt.Errorf("blob.Stat gs://%s/%s: %w", bucket, name, ErrNotExist)
	}
	if err != nil {
		return Attrs{}, fmt.Errorf("blob.Stat gs://%s/%s: %w", bucket, name, err)
	}
	return Attrs{Bucket: a.Bucket, Name: a.Name, Generation: a.Generation, Size: a.Size, ContentType: a.ContentType}, nil
}

// Open opens an object for reading; generation 0 means the live one. A
// fixed generation guarantees both passes of the intake read the same bytes.
func (s *Store) Open(ctx context.Context, bucket, name string, generation int64) (io.ReadCloser, error) {
	o := s.client.Bucket(bucket).Object(name)
	if generation > 0 {
		o = o.Generation(generation)
	}
	r, err := o.NewReader(ctx)
	if errors.Is(err, storage.ErrObjectNotExist) {
		return nil, fmt.Errorf("blob.Open gs://%s/%s: %w", bucket, name, ErrNotExist)
	}
	if err != nil {
		return nil, fmt.Errorf("blob.Open gs://%s/%s: %w", bucket, name, err)
	}
	return r, nil
}

// ReadAll reads a whole object, at most limit bytes (0 = no limit).
func (s *Store) ReadAll(ctx context.Context, bucket, name string, limit int64) ([]byte, error) {
	r, err := s.Open(ctx, bucket, name, 0)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	var src io.Reader = r
	if limit > 0 {
		src = io.LimitReader(r, limit+1)
	}
	b, err := io.ReadAll(src)
	if err != nil {
		return nil, fmt.Errorf("blob.ReadAll gs://%s/%s: %w", bucket, name, err)
	}
	if limit > 0 && int64(len(b)) > limit {
		return nil, fmt.Errorf("blob.ReadAll gs://%s/%s: %w: larger than %d bytes", bucket, name, ErrTooLarge, limit)
	}
	return b, nil
}

// Writer returns a writer that creates (or replaces) an object on Close.
func (s *Store) Writer(ctx context.Context, bucket, name, contentType string) io.WriteCloser {
	w := s.client.Bucket(bucket).Object(name).NewWriter(ctx)
	w.ContentType = contentType
	// Shards and results are small: one request per object, no resumable
	// upload session.
	w.ChunkSize = 0
	return &namedWriter{w: w, name: "gs://" + bucket + "/" + name}
}

type namedWriter struct {
	w    *storage.Writer
	name string
}

func (n *namedWriter) Write(p []byte) (int, error) { return n.w.Write(p) }

func (n *namedWriter) Close() error {
	if err := n.w.Close(); err != nil {
		return fmt.Errorf("blob.Write %s: %w", n.name, err)
	}
	return nil
}

// Write creates (or replaces) an object with data.
func (s *Store) Write(ctx context.Context, bucket, name, contentType string, data []byte) error {
	w := s.Writer(ctx, bucket, name, contentType)
	if _, err := io.Copy(w, bytes.NewReader(data)); err != nil {
		_ = w.Close()
		return fmt.Errorf("blob.Write gs://%s/%s: %w", bucket, name, err)
	}
	return w.Close()
}

// Opener opens an object generation (*Store does).
type Opener interface {
	Open(ctx context.Context, bucket, name string, generation int64) (io.ReadCloser, error)
}

// Object is one object generation; it implements dataset.Source so the
// intake can read it twice.
type Object struct {
	Store      Opener
	Bucket     string
	Name       string
	Generation int64
}

// Open opens the object generation.
func (o Object) Open(ctx context.Context) (io.ReadCloser, error) {
	return o.Store.Open(ctx, o.Bucket, o.Name, o.Generation)
}

// URI returns gs://bucket/name.
func (o Object) URI() string { return "gs://" + o.Bucket + "/" + o.Name }

// ParseURI splits gs://bucket/object. The object name must be a name a
// user may address: non-empty, at most 1024 bytes of UTF-8 (Cloud
// Storage's limit), without control characters (NUL, CR, LF, ...) or
// backslashes, not starting with "/" and without empty, "." or ".."
// segments, also when percent-encoded ("%2e%2e"). A trailing "/" (a
// folder) is allowed.
func ParseURI(uri string) (bucket, name string, err error) {
	rest, ok := strings.CutPrefix(uri, "gs://")
	if !ok {
		return "", "", fmt.Errorf("%q is not a gs:// URI", uri)
	}
	bucket, name, ok = strings.Cut(rest, "/")
	if !ok || bucket == "" || name == "" {
		return "", "", fmt.Errorf("%q must look like gs://BUCKET/OBJECT", uri)
	}
	if reason := badName(name); reason != "" {
		return "", "", fmt.Errorf("%q: object name %s", uri, reason)
	}
	return bucket, name, nil
}

// maxNameBytes is Cloud Storage's limit on object names.
const maxNameBytes = 1024

// badName says why an object name from a user cannot be used, or "".
func badName(name string) string {
	switch {
	case len(name) > maxNameBytes:
		return fmt.Sprintf("is longer than %d bytes", maxNameBytes)
	case !utf8.ValidString(name):
		return "is not valid UTF-8"
	case strings.IndexFunc(name, unicode.IsControl) >= 0:
		return "may not contain control characters (NUL, CR, LF, ...)"
	case strings.Contains(name, `\`):
		return "may not contain backslashes"
	}
	segs := strings.Split(name, "/")
	for i, seg := range segs {
		if seg == "" && i < len(segs)-1 {
			return "may not start with / or contain //"
		}
		dec, err := url.PathUnescape(seg)
		if err != nil {
			dec = seg
		}
		if seg == "." || seg == ".." || dec == "." || dec == ".." {
			return "may not contain . or .. segments"
		}
	}
	return ""
}

// CleanName reduces a file name a user sent (an upload's filename, which
// may be a Windows or Unix path) to one safe object name segment: its base
// name with every character other than ASCII letters, digits, '.', '-'
// and '_' replaced by '-', leading and trailing dots and dashes removed
// ("data" if nothing is left), and ".csv" appended if missing. The result
// never contains '/', a backslash or a ".." segment, so it cannot leave the
// folder it is put in.
func CleanName(name string) string {
	base := path.Base(strings.ReplaceAll(name, `\`, "/"))
	var b strings.Builder
	for _, r := range base {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '.', r == '-', r == '_':
			b.WriteRune(r)
		default:
			b.WriteByte('-')
		}
	}
	clean := strings.Trim(b.String(), ".-")
	if clean == "" {
		clean = "data"
	}
	if !strings.HasSuffix(strings.ToLower(clean), ".csv") {
		clean += ".csv"
	}
	return clean
}

// DataPath is the object of one batch of a split: runs/{run}/data/{split}/{batch}.jsonl.
func DataPath(run, split string, batch int) string {
	return fmt.Sprintf("runs/%s/data/%s/%d.jsonl", run, split, batch)
}

// ResultPath is the object of one attempt at scoring a batch:
// runs/{run}/results/{phase}/{batch}.{attempt}.jsonl. The batch document
// names the attempt that counts.
func ResultPath(run, phase string, batch int, attempt string) string {
	return fmt.Sprintf("runs/%s/results/%s/%d.%s.jsonl", run, phase, batch, attempt)
}

// ExportPath is an exported prompt file: runs/{run}/export/{file}. The
// parts are joined as they are, never cleaned, so a ".." in them cannot
// resolve to a name outside runs/{run}/export/ (object names are flat).
func ExportPath(run, file string) string {
	return "runs/" + run + "/export/" + file
}

// SidecarName is the config uploaded next to a CSV: <name>.yaml for <name>.csv.
func SidecarName(csvName string) string {
	return strings.TrimSuffix(csvName, path.Ext(csvName)) + ".yaml"
}
