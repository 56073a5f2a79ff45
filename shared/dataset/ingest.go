package dataset

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
)

// ctxCheckEvery is how many rows pass between checks of the context: often
// enough to stop within milliseconds, rarely enough to cost nothing.
const ctxCheckEvery = 1024

// scanResult is what the first pass learns.
type scanResult struct {
	manifest *Manifest
	hdr      header
	keys     []uint64 // split keys of the rows without an explicit split, in file order
	nVal     int      // how many of keys go to val
	nTest    int      // how many of keys go to test
}

// Validate reads r once, checks every row and returns the manifest Ingest
// would produce with opts (counts and batches included), without writing
// anything. It is the dry run of Ingest.
func Validate(ctx context.Context, r io.Reader, opts Options) (*Manifest, error) {
	if err := opts.validate(); err != nil {
		return nil, err
	}
	sr, err := scan(ctx, r, opts)
	if err != nil {
		return nil, err
	}
	return sr.manifest, nil
}

// Ingest validates the dataset, splits it and writes the shards: the rows of
// each split, in file order, in batches of opts.BatchSize, batch k holding
// the split's rows [k×BatchSize, (k+1)×BatchSize). It reads src twice and
// fails with ErrSourceChanged if the second read differs from the first.
//
// Problems in the file are returned as *Error before any shard is written.
func Ingest(ctx context.Context, src Source, opts Options, w ShardWriter) (*Manifest, error) {
	if err := opts.validate(); err != nil {
		return nil, err
	}
	sr, err := scanSource(ctx, src, opts)
	if err != nil {
		return nil, err
	}
	if opts.Accept != nil {
		if err := opts.Accept(sr.manifest); err != nil {
			return nil, err
		}
	}
	asg := newAssigner(sr.keys, sr.nVal, sr.nTest)
	sr.keys = nil

	rc, err := src.Open(ctx)
	if err != nil {
		return nil, fmt.Errorf("open dataset (second read): %w", err)
	}
	defer rc.Close()

	// Cancelled on failure before open shards are closed, so that they are
	// abandoned rather than committed.
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	sh := &shards{ctx: wctx, w: w, size: opts.BatchSize}
	if err := writeShards(ctx, rc, opts, sr, asg, sh); err != nil {
		sh.drain() // the full shards commit, as they did before the failure
		cancel()
		sh.abort()
		return nil, err
	}
	if err := sh.close(); err != nil {
		return nil, err
	}
	return sr.manifest, nil
}

func scanSource(ctx context.Context, src Source, opts Options) (*scanResult, error) {
	rc, err := src.Open(ctx)
	if err != nil {
		return nil, fmt.Errorf("open dataset: %w", err)
	}
	defer rc.Close()
	return scan(ctx, rc, opts)
}

// scan is the first pass: it validates every row, hashes the bytes and
// collects the split keys.
func scan(ctx context.Context, r io.Reader, opts Options) (*scanResult, error) {
	h := sha256.New()
	rd, err := newReader(r, opts.Limits, opts.templates(), h)
	if err != nil {
		return nil, err
	}
	k := keyer{seed: opts.Seed}
	hasID := rd.hdr.id >= 0
	var (
		explicit [3]int
		keys     []uint64
		idx      idIndex
		n        int
	)
	for {
		if n%ctxCheckEvery == 0 {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
		}
		rw, err := rd.next(n + 1)
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, err
		}
		n++
		if rw.rec > math.MaxInt32 {
			return nil, &Error{Row: rw.rec, Reason: fmt.Sprintf("more than %d rows", math.MaxInt32)}
		}
		var d [sha256.Size]byte
		if hasID || rw.split < 0 {
			d = k.digest(rw.id)
		}
		if hasID {
			idx.add(d, rw.rec)
		}
		if rw.split >= 0 {
			explicit[rw.split]++
		} else {
			keys = append(keys, splitKey(d))
		}
	}
	if n == 0 {
		return nil, &Error{Reason: "no data rows: the file has only a header"}
	}
	if first, dup, ok := idx.firstDuplicate(); ok {
		return nil, &Error{Row: dup, Column: ColumnID, Reason: fmt.Sprintf("duplicate id; row %d has the same id", first)}
	}

	nVal, nTest := splitCounts(len(keys), opts.Ratios)
	counts := explicit
	counts[idxVal] += nVal
	counts[idxTest] += nTest
	counts[idxTrain] += len(keys) - nVal - nTest
	m := &Manifest{
		SHA256:         hex.EncodeToString(h.Sum(nil)),
		Bytes:          rd.count.n,
		Rows:           n,
		Counts:         make(map[string]int, 3),
		Batches:        make(map[string]int, 3),
		Variables:      rd.hdr.variables,
		UnusedColumns:  rd.hdr.ignored,
		IgnoredColumns: rd.hdr.ignored,
		HasSplitColumn: rd.hdr.spl >= 0,
	}
	for i, name := range splitNames {
		m.Counts[name] = counts[i]
		m.Batches[name] = (counts[i] + opts.BatchSize - 1) / opts.BatchSize
	}
	return &scanResult{manifest: m, hdr: rd.hdr, keys: keys, nVal: nVal, nTest: nTest}, nil
}

// writeShards is the second pass: it streams the rows again into their
// split's shards and checks that it read exactly what the first pass did.
func writeShards(ctx context.Context, r io.Reader, opts Options, sr *scanResult, asg *assigner, sh *shards) error {
	h := sha256.New()
	rd, err := newReader(r, opts.Limits, opts.templates(), h)
	if err != nil {
		return changed(err)
	}
	if !sameHeader(rd.hdr, sr.hdr) {
		return fmt.Errorf("%w: the header differs", ErrSourceChanged)
	}
	m := sr.manifest
	k := keyer{seed: opts.Seed}
	var ex Example
	n := 0
	for {
		if n%ctxCheckEvery == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		rw, err := rd.next(n + 1)
		if err == io.EOF {
			break
		}
		if err != nil {
			return changed(err)
		}
		n++
		if n > m.Rows {
			return fmt.Errorf("%w: more than the %d rows of the first read", ErrSourceChanged, m.Rows)
		}
		split := rw.split
		if split < 0 {
			split = asg.assign(splitKey(k.digest(rw.id)))
		}
		ex = Example{ID: rw.id, Row: rw.rec, UserInput: rw.userInput, GroundTruth: rw.groundTruth}
		if len(rd.hdr.vars) > 0 {
			ex.Vars = make(map[string]string, len(rd.hdr.vars))
			for _, i := range rd.hdr.vars {
				ex.Vars[rd.hdr.names[i]] = rw.cells[i]
			}
		}
		if err := sh.write(split, &ex); err != nil {
			return err
		}
	}
	if sum := hex.EncodeToString(h.Sum(nil)); n != m.Rows || rd.count.n != m.Bytes || sum != m.SHA256 {
		return fmt.Errorf("%w: first read %d rows, %d bytes, sha256 %s; second read %d rows, %d bytes, sha256 %s",
			ErrSourceChanged, m.Rows, m.Bytes, m.SHA256, n, rd.count.n, sum)
	}
	for i, name := range splitNames {
		if sh.written[i] != m.Counts[name] {
			// Unreachable when the bytes are the same; a bug otherwise.
			return fmt.Errorf("dataset: internal error: wrote %d %s rows, planned %d", sh.written[i], name, m.Counts[name])
		}
	}
	return nil
}

// changed reports a problem of the second read. A problem in the file there
// means the file is not the one the first read validated; it is not wrapped,
// so that callers do not report it as the user's *Error.
func changed(err error) error {
	var de *Error
	if errors.As(err, &de) {
		return fmt.Errorf("%w: second read: %v", ErrSourceChanged, de)
	}
	return err
}

func sameHeader(a, b header) bool {
	return a.n == b.n && a.userInput == b.userInput && a.groundTruth == b.groundTruth &&
		a.id == b.id && a.spl == b.spl && slices.Equal(a.names, b.names) && slices.Equal(a.used, b.used)
}
