package dataset

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sync"
)

// shardBufferSize buffers writes to a shard so that a ShardWriter without
// its own buffering does not get one write per row.
const shardBufferSize = 64 << 10

// maxClosing bounds the full shards being committed in the background. A
// Cloud Storage Close waits for the upload's response: one round trip per
// shard in sequence made 1,000,000 rows at batch_size 20 (50,000 shards)
// take over ten minutes on the local cloud (docs/benchmarks.md, intake).
const maxClosing = 32

// shards writes each split's rows to its current batch, opening the next
// batch when one is full. At most one shard per split is open at a time, and
// each split reuses one buffer and encoder for all its shards.
type shards struct {
	ctx     context.Context
	w       ShardWriter
	size    int
	open    [3]*shard
	bufs    [3]*bufio.Writer
	encs    [3]*json.Encoder
	written [3]int

	// Full shards are flushed in line (the buffers are reused) and closed
	// by background goroutines, at most maxClosing at once.
	closing chan struct{}
	wg      sync.WaitGroup
	mu      sync.Mutex
	errs    []error
}

type shard struct {
	split string
	batch int
	wc    io.WriteCloser
	bw    *bufio.Writer
	enc   *json.Encoder
}

func (s *shards) write(split int, ex *Example) error {
	if s.written[split]%s.size == 0 {
		if cur := s.open[split]; cur != nil {
			s.open[split] = nil
			if err := s.closeAsync(cur); err != nil {
				return err
			}
		}
		batch := s.written[split] / s.size
		wc, err := s.w.Create(s.ctx, splitNames[split], batch)
		if err != nil {
			return fmt.Errorf("create shard %s/%d: %w", splitNames[split], batch, err)
		}
		if s.bufs[split] == nil {
			s.bufs[split] = bufio.NewWriterSize(wc, shardBufferSize)
			s.encs[split] = json.NewEncoder(s.bufs[split])
			s.encs[split].SetEscapeHTML(false) // prompts are not HTML; keep them readable
		} else {
			s.bufs[split].Reset(wc)
		}
		s.open[split] = &shard{split: splitNames[split], batch: batch, wc: wc, bw: s.bufs[split], enc: s.encs[split]}
	}
	cur := s.open[split]
	if err := cur.enc.Encode(ex); err != nil {
		return fmt.Errorf("write shard %s/%d: %w", cur.split, cur.batch, err)
	}
	s.written[split]++
	return nil
}

// closeAsync flushes a full shard and commits it in the background. It
// returns the error of a shard committed earlier, if one failed, so that
// Ingest stops at the first failed upload.
func (s *shards) closeAsync(c *shard) error {
	if err := c.bw.Flush(); err != nil {
		c.wc.Close()
		return fmt.Errorf("write shard %s/%d: %w", c.split, c.batch, err)
	}
	if s.closing == nil {
		s.closing = make(chan struct{}, maxClosing)
	}
	s.closing <- struct{}{}
	s.wg.Go(func() {
		defer func() { <-s.closing }()
		if err := c.wc.Close(); err != nil {
			s.mu.Lock()
			s.errs = append(s.errs, fmt.Errorf("close shard %s/%d: %w", c.split, c.batch, err))
			s.mu.Unlock()
		}
	})
	return s.failed()
}

// drain waits for the background commits.
func (s *shards) drain() { s.wg.Wait() }

// failed returns the errors of the background commits so far.
func (s *shards) failed() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return errors.Join(s.errs...)
}

// close closes (commits) every shard still open and waits for the
// background commits.
func (s *shards) close() error {
	var errs []error
	for i, cur := range s.open {
		if cur != nil {
			s.open[i] = nil
			errs = append(errs, cur.close())
		}
	}
	s.wg.Wait()
	return errors.Join(append(errs, s.failed())...)
}

// abort closes the open shards ignoring errors; the caller has cancelled the
// context they were created with, so they are abandoned, not committed. It
// waits for the background commits, so none outlives Ingest.
func (s *shards) abort() {
	for i, cur := range s.open {
		if cur != nil {
			s.open[i] = nil
			cur.wc.Close()
		}
	}
	s.wg.Wait()
}

func (c *shard) close() error {
	if err := c.bw.Flush(); err != nil {
		c.wc.Close()
		return fmt.Errorf("write shard %s/%d: %w", c.split, c.batch, err)
	}
	if err := c.wc.Close(); err != nil {
		return fmt.Errorf("close shard %s/%d: %w", c.split, c.batch, err)
	}
	return nil
}

// ReadShard decodes a shard written by Ingest: one Example per JSON line.
func ReadShard(r io.Reader) ([]Example, error) {
	dec := json.NewDecoder(r)
	var out []Example
	for {
		var ex Example
		err := dec.Decode(&ex)
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return nil, fmt.Errorf("read shard: example %d: %w", len(out)+1, err)
		}
		if ex.ID == "" {
			return nil, fmt.Errorf("read shard: example %d: no id", len(out)+1)
		}
		out = append(out, ex)
	}
}
