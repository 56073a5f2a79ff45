package primary

import (
	"bytes"
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"cloud.google.com/go/storage"
	"google.golang.org/api/iterator"
)

// KeySource finds the dataset example a primary prompt is about. The
// simulator gets its answers only from a KeySource, never from the pipeline's
// own calls, so the primary cannot "learn" from the optimizer's data block.
type KeySource interface {
	// Lookup returns the answer-key input that is the longest prefix of
	// prompt (both trimmed, ending on a whitespace boundary) and its ground
	// truth; ok is false when no input matches.
	Lookup(ctx context.Context, prompt string) (input, truth string, ok bool, err error)
}

// AlternativeSource is implemented by key sources that can name the other
// answers of an input's dataset. The simulator draws wrong answers of
// single-word tasks (labels) from them, so a wrong sentiment is another
// sentiment rather than a French sentence from another dataset.
type AlternativeSource interface {
	// Alternatives returns the distinct answers of the dataset that input
	// (as returned by Lookup) came from, sorted.
	Alternatives(input string) []string
}

// entry is one answer-key row.
type entry struct {
	truth string
	group int // index of the dataset (CSV object) the row came from
}

// Key is an immutable answer key: dataset input → ground truth. It is safe
// for concurrent use.
type Key struct {
	entries map[string]entry
	answers [][]string // per group: sorted distinct answers
	maxLen  int        // longest normalized input, bounds Lookup's scan
}

// NewKey builds a key from input → ground-truth pairs (one dataset).
func NewKey(pairs map[string]string) *Key {
	b := newKeyBuilder()
	b.add(pairs)
	return b.build()
}

// keyBuilder merges datasets; the first occurrence of an input wins, so the
// result depends only on the order datasets are added (LoadBucket adds them
// in object-name order).
type keyBuilder struct {
	entries map[string]entry
	groups  int
}

func newKeyBuilder() *keyBuilder {
	return &keyBuilder{entries: map[string]entry{}}
}

func (b *keyBuilder) add(pairs map[string]string) {
	g := b.groups
	b.groups++
	for in, truth := range pairs {
		n := normalize(in)
		if n == "" {
			continue
		}
		if _, dup := b.entries[n]; dup {
			continue
		}
		b.entries[n] = entry{truth: truth, group: g}
	}
}

func (b *keyBuilder) build() *Key {
	k := &Key{entries: b.entries, answers: make([][]string, b.groups)}
	seen := make([]map[string]bool, b.groups)
	for in, e := range b.entries {
		k.maxLen = max(k.maxLen, len(in))
		if seen[e.group] == nil {
			seen[e.group] = map[string]bool{}
		}
		if !seen[e.group][e.truth] {
			seen[e.group][e.truth] = true
			k.answers[e.group] = append(k.answers[e.group], e.truth)
		}
	}
	for _, a := range k.answers {
		sort.Strings(a)
	}
	return k
}

// Len returns the number of inputs in the key.
func (k *Key) Len() int { return len(k.entries) }

// Lookup implements KeySource. It never fails.
func (k *Key) Lookup(_ context.Context, prompt string) (input, truth string, ok bool, err error) {
	input, truth, ok = k.lookup(prompt)
	return input, truth, ok, nil
}

// lookup finds the longest key input that is a prefix of prompt and ends
// where the prompt has whitespace (or ends), so "Hello" never matches a prompt
// about "Hello world". Only ends of non-space runs are tried, which keeps the
// scan linear in the prompt length.
func (k *Key) lookup(prompt string) (input, truth string, ok bool) {
	p := normalize(prompt)
	for i := min(len(p), k.maxLen+1); i > 0; i-- {
		if i < len(p) && !isSpace(p[i]) {
			continue
		}
		if isSpace(p[i-1]) || i > k.maxLen {
			continue
		}
		if e, found := k.entries[p[:i]]; found {
			return p[:i], e.truth, true
		}
	}
	return "", "", false
}

// Alternatives implements AlternativeSource.
func (k *Key) Alternatives(input string) []string {
	e, ok := k.entries[normalize(input)]
	if !ok {
		return nil
	}
	return k.answers[e.group]
}

func isSpace(c byte) bool {
	return c == ' ' || c == '\n' || c == '\t' || c == '\r' || c == '\v' || c == '\f'
}

// normalize makes CSV text and prompt text comparable: CRLF from a CSV
// written on Windows equals LF in a prompt, and surrounding space is noise.
func normalize(s string) string {
	return strings.TrimSpace(strings.ReplaceAll(s, "\r\n", "\n"))
}

// Column names ParseCSV reads, as the dataset format defines them.
const (
	InputColumn = "user_input"
	TruthColumn = "ground_truth_output"
)

// ErrNoColumns means a CSV header lacks the user_input or ground_truth_output
// column.
var ErrNoColumns = errors.New("csv header lacks " + InputColumn + " or " + TruthColumn)

// ParseCSV reads the user_input and ground_truth_output columns (found by
// header name, case-insensitively; other columns are ignored) of a dataset
// CSV. A UTF-8 BOM is stripped, quoted fields may span lines, and stray
// quotes are tolerated. The first row of a repeated input wins.
func ParseCSV(r io.Reader) (map[string]string, error) {
	cr := csv.NewReader(r)
	cr.LazyQuotes = true
	cr.FieldsPerRecord = -1
	header, err := cr.Read()
	if err != nil {
		return nil, fmt.Errorf("sim.ParseCSV: read header: %w", err)
	}
	in, out := -1, -1
	for i, h := range header {
		h = strings.ToLower(strings.TrimSpace(strings.TrimPrefix(h, "\ufeff")))
		switch {
		case h == InputColumn && in < 0:
			in = i
		case h == TruthColumn && out < 0:
			out = i
		}
	}
	if in < 0 || out < 0 {
		return nil, fmt.Errorf("sim.ParseCSV: %w (header %q)", ErrNoColumns, header)
	}
	pairs := map[string]string{}
	for {
		rec, err := cr.Read()
		if err == io.EOF {
			return pairs, nil
		}
		if err != nil {
			return nil, fmt.Errorf("sim.ParseCSV: %w", err)
		}
		if in >= len(rec) || out >= len(rec) {
			continue // a short row has no answer to learn
		}
		if _, dup := pairs[rec[in]]; !dup {
			pairs[rec[in]] = rec[out]
		}
	}
}

// LoadBucket builds a key from every *.csv object of bucket (the local
// datasets bucket), one dataset per object, merged in object-name order. An
// object that is not a parsable dataset CSV is skipped, because one bad upload
// must not take the simulator down; failing to list or read is an error.
func LoadBucket(ctx context.Context, client *storage.Client, bucket string) (*Key, error) {
	b := newKeyBuilder()
	bh := client.Bucket(bucket)
	it := bh.Objects(ctx, nil)
	var names []string
	for {
		attrs, err := it.Next()
		if err == iterator.Done {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("sim.LoadBucket: list gs://%s: %w", bucket, err)
		}
		if strings.HasSuffix(strings.ToLower(attrs.Name), ".csv") {
			names = append(names, attrs.Name)
		}
	}
	sort.Strings(names)
	for _, name := range names {
		data, err := readObject(ctx, bh.Object(name))
		if err != nil {
			return nil, fmt.Errorf("sim.LoadBucket: read gs://%s/%s: %w", bucket, name, err)
		}
		pairs, err := ParseCSV(bytes.NewReader(data))
		if err != nil {
			continue
		}
		b.add(pairs)
	}
	return b.build(), nil
}

func readObject(ctx context.Context, o *storage.ObjectHandle) ([]byte, error) {
	r, err := o.NewReader(ctx)
	if err != nil {
		return nil, fmt.Errorf("new reader: %w", err)
	}
	defer r.Close()
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, fmt.Errorf("read: %w", err)
	}
	return data, nil
}

// DefaultRefresh is the BucketKey reload interval used when none is given.
const DefaultRefresh = 10 * time.Second

// BucketKey is a KeySource over a bucket that picks up new uploads: on a miss
// it reloads the bucket, at most once per refresh interval, so a dataset
// dropped after start-up is answered without hammering storage on every
// unknown prompt. It is safe for concurrent use.
type BucketKey struct {
	client *storage.Client
	bucket string
	every  time.Duration
	now    func() time.Time // a field so tests can drive the clock

	cur atomic.Pointer[Key] // hits read it without locking

	mu       sync.Mutex // serializes reloads
	tried    time.Time  // last reload attempt
	hasTried bool
	lastErr  error
}

// NewBucketKey returns a key over bucket that loads lazily on first use and
// reloads on a miss at most once every refresh (DefaultRefresh if <= 0).
func NewBucketKey(client *storage.Client, bucket string, refresh time.Duration) *BucketKey {
	if refresh <= 0 {
		refresh = DefaultRefresh
	}
	return &BucketKey{client: client, bucket: bucket, every: refresh, now: time.Now}
}

// Lookup implements KeySource.
func (b *BucketKey) Lookup(ctx context.Context, prompt string) (input, truth string, ok bool, err error) {
	seen := b.cur.Load()
	if seen != nil {
		if input, truth, ok = seen.lookup(prompt); ok {
			return input, truth, true, nil
		}
	}
	k, err := b.reload(ctx, seen)
	if err != nil {
		return "", "", false, err
	}
	if k == seen {
		return "", "", false, nil
	}
	input, truth, ok = k.lookup(prompt)
	return input, truth, ok, nil
}

// reload loads the bucket unless another caller already did since seen was
// read, or the last attempt is younger than the refresh interval.
func (b *BucketKey) reload(ctx context.Context, seen *Key) (*Key, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if cur := b.cur.Load(); cur != seen {
		return cur, nil
	}
	now := b.now()
	if b.hasTried && now.Sub(b.tried) < b.every {
		if seen == nil {
			return nil, b.lastErr
		}
		return seen, nil
	}
	b.tried, b.hasTried = now, true
	k, err := LoadBucket(ctx, b.client, b.bucket)
	if err != nil {
		b.lastErr = err
		return nil, err
	}
	b.lastErr = nil
	b.cur.Store(k)
	return k, nil
}

// Alternatives implements AlternativeSource from the last loaded key.
func (b *BucketKey) Alternatives(input string) []string {
	if k := b.cur.Load(); k != nil {
		return k.Alternatives(input)
	}
	return nil
}
