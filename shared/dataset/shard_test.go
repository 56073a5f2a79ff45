package dataset

import (
	"bytes"
	"context"
	"io"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// slowWriter's shards take a while to commit, like a Cloud Storage upload
// waiting for its response, and count how many commit at once.
type slowWriter struct {
	inFlight, most atomic.Int32
	mu             sync.Mutex
	committed      map[string]int // shard → bytes
}

type slowShard struct {
	w    *slowWriter
	name string
	buf  bytes.Buffer
}

func (w *slowWriter) Create(_ context.Context, split string, batch int) (io.WriteCloser, error) {
	return &slowShard{w: w, name: split + "/" + strconv.Itoa(batch)}, nil
}

func (s *slowShard) Write(p []byte) (int, error) { return s.buf.Write(p) }

func (s *slowShard) Close() error {
	n := s.w.inFlight.Add(1)
	for {
		m := s.w.most.Load()
		if n <= m || s.w.most.CompareAndSwap(m, n) {
			break
		}
	}
	time.Sleep(5 * time.Millisecond)
	s.w.inFlight.Add(-1)
	s.w.mu.Lock()
	s.w.committed[s.name] = s.buf.Len()
	s.w.mu.Unlock()
	return nil
}

// TestShardsCommitConcurrently checks that full shards are committed in the
// background, several at once but never more than maxClosing (plus the
// last shard of each split), and that
// Ingest returns only when every shard is committed with all its rows.
func TestShardsCommitConcurrently(t *testing.T) {
	w := &slowWriter{committed: map[string]int{}}
	const rows, size = 400, 2
	m, err := Ingest(context.Background(), stringSource(genCSV(rows, true)), Options{Ratios: Ratios{Train: 1}, BatchSize: size}, w)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := len(w.committed), m.Batches[Train]; got != want || want != rows/size {
		t.Fatalf("%d shards committed, want %d (= %d rows / %d)", got, want, rows, size)
	}
	for name, b := range w.committed {
		if b == 0 {
			t.Errorf("shard %s committed empty", name)
		}
	}
	// The last shard of each split is committed in line by close, next to
	// up to maxClosing background commits.
	if most := w.most.Load(); most < 2 || int(most) > maxClosing+len(splitNames) {
		t.Errorf("at most %d shards committed at once, want 2..%d", most, maxClosing+len(splitNames))
	}
	if w.inFlight.Load() != 0 {
		t.Errorf("Ingest returned with %d commits in flight", w.inFlight.Load())
	}
}
