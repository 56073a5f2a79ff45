package dataset

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
	"testing"
)

// stringSource returns the same text on every Open.
type stringSource string

func (s stringSource) Open(context.Context) (io.ReadCloser, error) {
	return io.NopCloser(strings.NewReader(string(s))), nil
}

// changingSource returns its texts in turn, one per Open.
type changingSource struct {
	texts []string
	opens int
}

func (s *changingSource) Open(context.Context) (io.ReadCloser, error) {
	t := s.texts[min(s.opens, len(s.texts)-1)]
	s.opens++
	return io.NopCloser(strings.NewReader(t)), nil
}

// memWriter is an in-memory ShardWriter. Like Cloud Storage, a shard is
// committed on Close only if its context is still live.
type memWriter struct {
	mu        sync.Mutex
	files     map[string]*memFile
	failOn    string // "split/batch" whose Create fails
	failClose string // "split/batch" whose Close fails
}

type memFile struct {
	bytes.Buffer
	ctx       context.Context
	closes    int
	committed bool
	failClose bool
}

func (f *memFile) Close() error {
	f.closes++
	if f.failClose {
		return fmt.Errorf("injected close failure")
	}
	if err := f.ctx.Err(); err != nil {
		return err
	}
	f.committed = true
	return nil
}

func shardName(split string, batch int) string { return fmt.Sprintf("%s/%d", split, batch) }

func (w *memWriter) Create(ctx context.Context, split string, batch int) (io.WriteCloser, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	name := shardName(split, batch)
	if name == w.failOn {
		return nil, fmt.Errorf("injected create failure for %s", name)
	}
	if w.files == nil {
		w.files = make(map[string]*memFile)
	}
	if _, ok := w.files[name]; ok {
		return nil, fmt.Errorf("shard %s created twice", name)
	}
	f := &memFile{ctx: ctx, failClose: name == w.failClose}
	w.files[name] = f
	return f, nil
}

// splitExamples reads back every committed shard of each split, checks that
// batches are numbered from 0 without gaps, all full but the last, each
// closed once, and returns the split's examples in batch order.
func (w *memWriter) splitExamples(t *testing.T, batchSize int) map[string][]Example {
	t.Helper()
	out := make(map[string][]Example)
	for _, split := range splitNames {
		var names []string
		for name := range w.files {
			if strings.HasPrefix(name, split+"/") {
				names = append(names, name)
			}
		}
		for b := range len(names) {
			f, ok := w.files[shardName(split, b)]
			if !ok {
				t.Fatalf("shards of %s: %v, missing batch %d", split, names, b)
			}
			if f.closes != 1 || !f.committed {
				t.Errorf("shard %s/%d: closed %d times, committed %v; want once, committed", split, b, f.closes, f.committed)
			}
			exs, err := ReadShard(bytes.NewReader(f.Bytes()))
			if err != nil {
				t.Fatalf("shard %s/%d: %v", split, b, err)
			}
			if len(exs) == 0 || len(exs) > batchSize || (b < len(names)-1 && len(exs) != batchSize) {
				t.Errorf("shard %s/%d of %d has %d examples, batch size %d", split, b, len(names), len(exs), batchSize)
			}
			out[split] = append(out[split], exs...)
		}
	}
	return out
}

// ids returns the ids of exs.
func ids(exs []Example) []string {
	out := make([]string, len(exs))
	for i, ex := range exs {
		out[i] = ex.ID
	}
	return out
}

// genCSV returns a CSV with n rows with ids r1..rn (or no id column).
func genCSV(n int, withID bool) string {
	var b strings.Builder
	if withID {
		b.WriteString("id,")
	}
	b.WriteString("user_input,ground_truth_output\n")
	for i := 1; i <= n; i++ {
		if withID {
			fmt.Fprintf(&b, "r%d,", i)
		}
		fmt.Fprintf(&b, "input %d,output %d\n", i, i)
	}
	return b.String()
}

// splitOf maps each id to the split it landed in.
func splitOf(got map[string][]Example) map[string]string {
	m := make(map[string]string)
	for split, exs := range got {
		for _, ex := range exs {
			m[ex.ID] = split
		}
	}
	return m
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
