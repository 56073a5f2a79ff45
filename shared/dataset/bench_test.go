package dataset

import (
	"context"
	"flag"
	"io"
	"runtime/metrics"
	"strconv"
	"sync"
	"testing"
	"time"
)

var benchRows = flag.Int("dataset.rows", 100_000, "number of rows of the CSV BenchmarkIngest generates")

// genSource generates a CSV of n rows of about 100 bytes on the fly, the
// same bytes on every Open, so that the benchmark measures Ingest's memory
// and not a 100 MB test fixture.
type genSource struct{ n int }

func (s genSource) Open(context.Context) (io.ReadCloser, error) {
	return io.NopCloser(&genReader{n: s.n, pending: []byte("id,user_input,ground_truth_output\n")}), nil
}

type genReader struct {
	n, i    int
	line    []byte
	pending []byte
}

func (g *genReader) Read(p []byte) (int, error) {
	total := 0
	for len(p) > 0 {
		if len(g.pending) == 0 {
			if g.i >= g.n {
				break
			}
			g.i++
			// Built with strconv, not fmt, so that the generator does not
			// allocate and the benchmark's allocs are Ingest's.
			i := int64(g.i)
			l := append(g.line[:0], "ex"...)
			l = append(l, "0000000"[min(7, digits(g.i)):]...)
			l = strconv.AppendInt(l, i, 10)
			l = append(l, ",Translate to French: the weather is nice today (row "...)
			l = strconv.AppendInt(l, i, 10)
			l = append(l, "),\"Il fait beau aujourd'hui, ligne "...)
			l = strconv.AppendInt(l, i, 10)
			g.line = append(l, "\"\n"...)
			g.pending = g.line
		}
		n := copy(p, g.pending)
		g.pending, p, total = g.pending[n:], p[n:], total+n
	}
	if total == 0 {
		return 0, io.EOF
	}
	return total, nil
}

func digits(i int) int {
	n := 1
	for ; i >= 10; i /= 10 {
		n++
	}
	return n
}

// discardWriter is a ShardWriter that counts and drops what it is given.
type discardWriter struct{ bytes int64 }

type discardShard struct{ w *discardWriter }

func (d *discardWriter) Create(context.Context, string, int) (io.WriteCloser, error) {
	return discardShard{d}, nil
}

func (s discardShard) Write(p []byte) (int, error) { s.w.bytes += int64(len(p)); return len(p), nil }
func (discardShard) Close() error                  { return nil }

// peakHeap samples the live heap until stop is called, without stopping the
// world, and returns the largest sample.
func peakHeap() (stop func() uint64) {
	sample := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	var (
		peak uint64
		wg   sync.WaitGroup
	)
	done := make(chan struct{})
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(2 * time.Millisecond)
		defer t.Stop()
		for {
			metrics.Read(sample)
			peak = max(peak, sample[0].Value.Uint64())
			select {
			case <-done:
				return
			case <-t.C:
			}
		}
	}()
	return func() uint64 { close(done); wg.Wait(); return peak }
}

// BenchmarkIngest ingests a generated CSV (-dataset.rows rows, 100k by
// default, ~110 bytes each) with ids and a 80/10/10 split, both passes,
// into discarded shards. It reports rows/s and the peak live heap.
func BenchmarkIngest(b *testing.B) {
	n := *benchRows
	src := genSource{n: n}
	size, _ := io.Copy(io.Discard, must(src.Open(context.Background())))
	opts := Options{Ratios: Ratios{0.8, 0.1, 0.1}, Seed: 1, BatchSize: 100}
	b.SetBytes(size)
	b.ReportAllocs()
	stop := peakHeap()
	b.ResetTimer()
	for b.Loop() {
		m, err := Ingest(context.Background(), src, opts, &discardWriter{})
		if err != nil {
			b.Fatal(err)
		}
		if m.Rows != n {
			b.Fatalf("Rows = %d, want %d", m.Rows, n)
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(stop())/(1<<20), "peak-heap-MiB")
	b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "rows/s")
}

// BenchmarkValidate is the first pass alone (the dry run).
func BenchmarkValidate(b *testing.B) {
	n := *benchRows
	src := genSource{n: n}
	opts := Options{Ratios: Ratios{0.8, 0.1, 0.1}, Seed: 1, BatchSize: 100}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Validate(context.Background(), must(src.Open(context.Background())), opts); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "rows/s")
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}
