// Package store keeps the pipeline's operational state in Firestore
// (DESIGN.md "Firestore"): runs, prompt versions, phases, batches, epochs and
// events. Every write is idempotent so at-least-once delivery is safe.
package store

//lint:file-ignore SA1019 WriteBatch is the one Firestore write that carries a last-update-time precondition and extra writes atomically without a lock (optimistic.go says why transactions are not used).

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"cloud.google.com/go/firestore"
	"google.golang.org/api/iterator"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/promptml/promptml/shared/errs"
)

// ErrNotFound is returned when a document does not exist.
var ErrNotFound = errs.New(errs.NotFound, "not found")

// Store is the Firestore-backed state.
type Store struct {
	fs *firestore.Client
	// now is the clock; tests may replace it.
	now func() time.Time
	// retention is how long events and upload records are kept: they get
	// an expire_at this far after they are written, which the deployment's
	// Firestore TTL policies act on (0: no expire_at, kept forever).
	retention time.Duration
}

// New returns a Store on client.
func New(client *firestore.Client) *Store {
	return &Store{fs: client, now: time.Now}
}

func (s *Store) run(id string) *firestore.DocumentRef { return s.fs.Collection("runs").Doc(id) }

func (s *Store) phase(run, phase string) *firestore.DocumentRef {
	return s.run(run).Collection("phases").Doc(phase)
}

func (s *Store) batch(run, phase string, n int) *firestore.DocumentRef {
	return s.phase(run, phase).Collection("batches").Doc(fmt.Sprint(n))
}

func isNotFound(err error) bool { return status.Code(err) == codes.NotFound }

func isAlreadyExists(err error) bool { return status.Code(err) == codes.AlreadyExists }

// UploadKey is the document id that dedupes storage events: the hash of
// (bucket, object, generation).
func UploadKey(bucket, object string, generation int64) string {
	h := sha256.Sum256([]byte(fmt.Sprintf("%s\x00%s\x00%d", bucket, object, generation)))
	return hex.EncodeToString(h[:16])
}

// CreateRunForUpload creates run unless an earlier delivery of the same
// upload (same key) already did; it returns the run of that upload and
// whether this call created it.
func (s *Store) CreateRunForUpload(ctx context.Context, key string, run *Run) (string, bool, error) {
	ref := s.fs.Collection("uploads").Doc(key)
	now := s.now()
	run.CreatedAt, run.UpdatedAt = now, now
	// Both creates commit atomically or not at all; the upload document's
	// must-not-exist precondition is what dedupes, with no lock to wait on.
	b := s.fs.Batch()
	upload := map[string]any{"run_id": run.ID, "created_at": now}
	if s.retention > 0 {
		upload[ExpireAtField] = now.Add(s.retention)
	}
	b.Create(ref, upload)
	b.Create(s.run(run.ID), run)
	_, err := b.Commit(ctx)
	if err == nil {
		return run.ID, true, nil
	}
	if !isAlreadyExists(err) {
		return "", false, fmt.Errorf("store.CreateRunForUpload: %w", err)
	}
	snap, err := ref.Get(ctx)
	if err != nil {
		return "", false, fmt.Errorf("store.CreateRunForUpload: %w", err)
	}
	id, _ := snap.Data()["run_id"].(string)
	return id, false, nil
}

// CreateRun creates a new run document.
func (s *Store) CreateRun(ctx context.Context, run *Run) error {
	now := s.now()
	run.CreatedAt, run.UpdatedAt = now, now
	if _, err := s.run(run.ID).Create(ctx, run); err != nil {
		return fmt.Errorf("store.CreateRun: %w", err)
	}
	return nil
}

// GetRun reads a run.
func (s *Store) GetRun(ctx context.Context, id string) (*Run, error) {
	snap, err := s.run(id).Get(ctx)
	if isNotFound(err) {
		return nil, fmt.Errorf("store.GetRun %s: %w", id, ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("store.GetRun %s: %w", id, err)
	}
	var r Run
	if err := snap.DataTo(&r); err != nil {
		return nil, fmt.Errorf("store.GetRun %s: %w", id, err)
	}
	return &r, nil
}

// ErrSkip, returned by an UpdateRun callback, leaves the run unchanged and
// makes UpdateRun return nil.
var ErrSkip = errors.New("skip update")

// UpdateRun reads the run, lets fn change it, and writes it back unless
// another write came in between (then it re-reads and calls fn again). fn
// may run several times and must not have side effects outside r. It
// returns the run as written (or as read, when fn returned ErrSkip).
func (s *Store) UpdateRun(ctx context.Context, id string, fn func(r *Run) error) (*Run, error) {
	var r Run
	err := s.modify(ctx, s.run(id), &r, func() (bool, func(*firestore.WriteBatch), error) {
		if err := fn(&r); err != nil {
			return false, nil, err
		}
		r.UpdatedAt = s.now()
		return true, nil, nil
	})
	if errors.Is(err, ErrSkip) {
		return &r, nil
	}
	if isNotFound(err) {
		return nil, fmt.Errorf("store.UpdateRun %s: %w", id, ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("store.UpdateRun %s: %w", id, err)
	}
	return &r, nil
}

// SetPublished records that the fan-out of stage seq has been published,
// and releases the run lease the committer kept for it and clears the
// transition's outbox (its events are written). It only moves forward.
func (s *Store) SetPublished(ctx context.Context, id string, seq int) error {
	_, err := s.UpdateRun(ctx, id, func(r *Run) error {
		if r.PublishedSeq >= seq {
			return ErrSkip
		}
		r.PublishedSeq = seq
		if r.StageSeq == seq {
			r.Lease, r.Outbox = nil, nil
		}
		return nil
	})
	return err
}

// ListRuns lists runs, newest first, optionally only those with status.
func (s *Store) ListRuns(ctx context.Context, status RunStatus, limit int) ([]*Run, error) {
	q := s.fs.Collection("runs").Query
	if status != "" {
		q = q.Where("status", "==", string(status))
	}
	q = q.OrderBy("created_at", firestore.Desc)
	if limit > 0 {
		q = q.Limit(limit)
	}
	var out []*Run
	it := q.Documents(ctx)
	defer it.Stop()
	for {
		snap, err := it.Next()
		if errors.Is(err, iterator.Done) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("store.ListRuns: %w", err)
		}
		var r Run
		if err := snap.DataTo(&r); err != nil {
			return nil, fmt.Errorf("store.ListRuns: %w", err)
		}
		out = append(out, &r)
	}
	return out, nil
}

// PutPrompt creates a prompt version if it does not exist yet (prompt ids
// are content hashes, so an existing one is the same prompt).
func (s *Store) PutPrompt(ctx context.Context, run string, p *Prompt) error {
	if p.CreatedAt.IsZero() {
		p.CreatedAt = s.now()
	}
	_, err := s.run(run).Collection("prompts").Doc(p.ID).Create(ctx, p)
	if err != nil && !isAlreadyExists(err) {
		return fmt.Errorf("store.PutPrompt: %w", err)
	}
	return nil
}

// GetPrompt reads a prompt version.
func (s *Store) GetPrompt(ctx context.Context, run, id string) (*Prompt, error) {
	snap, err := s.run(run).Collection("prompts").Doc(id).Get(ctx)
	if isNotFound(err) {
		return nil, fmt.Errorf("store.GetPrompt %s: %w", id, ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("store.GetPrompt %s: %w", id, err)
	}
	var p Prompt
	if err := snap.DataTo(&p); err != nil {
		return nil, fmt.Errorf("store.GetPrompt %s: %w", id, err)
	}
	return &p, nil
}

// UpdatePrompt merges fields into a prompt version.
func (s *Store) UpdatePrompt(ctx context.Context, run, id string, fields map[string]any) error {
	if _, err := s.run(run).Collection("prompts").Doc(id).Set(ctx, fields, firestore.MergeAll); err != nil {
		return fmt.Errorf("store.UpdatePrompt %s: %w", id, err)
	}
	return nil
}

// ListPrompts lists a run's prompt versions by epoch, then creation.
func (s *Store) ListPrompts(ctx context.Context, run string) ([]*Prompt, error) {
	var out []*Prompt
	err := list(ctx, s.run(run).Collection("prompts").OrderBy("created_at", firestore.Asc), func(snap *firestore.DocumentSnapshot) error {
		var p Prompt
		if err := snap.DataTo(&p); err != nil {
			return err
		}
		out = append(out, &p)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("store.ListPrompts: %w", err)
	}
	return out, nil
}

// EnsurePhase creates the phase unless it exists, and returns the stored
// phase. An existing phase is how a prompt already scored on a split is
// reused instead of recomputed.
func (s *Store) EnsurePhase(ctx context.Context, run string, p *Phase) (*Phase, error) {
	np := *p
	np.CreatedAt = s.now()
	if np.State == "" {
		np.State = PhasePending
	}
	_, err := s.phase(run, p.ID).Create(ctx, &np)
	if err == nil {
		return &np, nil
	}
	if !isAlreadyExists(err) {
		return nil, fmt.Errorf("store.EnsurePhase %s: %w", p.ID, err)
	}
	return s.GetPhase(ctx, run, p.ID)
}

// GetPhase reads a phase.
func (s *Store) GetPhase(ctx context.Context, run, id string) (*Phase, error) {
	snap, err := s.phase(run, id).Get(ctx)
	if isNotFound(err) {
		return nil, fmt.Errorf("store.GetPhase %s: %w", id, ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("store.GetPhase %s: %w", id, err)
	}
	var p Phase
	if err := snap.DataTo(&p); err != nil {
		return nil, fmt.Errorf("store.GetPhase %s: %w", id, err)
	}
	return &p, nil
}

// ListPhases lists a run's phases.
func (s *Store) ListPhases(ctx context.Context, run string) ([]*Phase, error) {
	var out []*Phase
	err := list(ctx, s.run(run).Collection("phases").OrderBy("created_at", firestore.Asc), func(snap *firestore.DocumentSnapshot) error {
		var p Phase
		if err := snap.DataTo(&p); err != nil {
			return err
		}
		out = append(out, &p)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("store.ListPhases: %w", err)
	}
	return out, nil
}

// GetBatch reads a batch document; a batch never started is returned as
// not done with ok=false.
func (s *Store) GetBatch(ctx context.Context, run, phase string, n int) (b Batch, ok bool, err error) {
	snap, err := s.batch(run, phase, n).Get(ctx)
	if isNotFound(err) {
		return Batch{N: n}, false, nil
	}
	if err != nil {
		return Batch{}, false, fmt.Errorf("store.GetBatch: %w", err)
	}
	if err := snap.DataTo(&b); err != nil {
		return Batch{}, false, fmt.Errorf("store.GetBatch: %w", err)
	}
	return b, true, nil
}

// ListBatches lists the done batches of a phase.
func (s *Store) ListBatches(ctx context.Context, run, phase string) ([]Batch, error) {
	var out []Batch
	err := list(ctx, s.phase(run, phase).Collection("batches").Where("done", "==", true), func(snap *firestore.DocumentSnapshot) error {
		var b Batch
		if err := snap.DataTo(&b); err != nil {
			return err
		}
		out = append(out, b)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("store.ListBatches: %w", err)
	}
	return out, nil
}

// CompleteBatch records a finished batch and does the fan-in: the batch
// document is written on its own (never one hot counter), the done batches
// are counted, and the call that sees the count complete flips the phase
// pending→triggered with an optimistic write. It reports whether the phase is
// triggered (or later) so the caller publishes phase-done; a duplicate
// delivery reports the same and publishes again, which the aggregator
// absorbs.
func (s *Store) CompleteBatch(ctx context.Context, run, phase string, b Batch) (triggered bool, err error) {
	b.Done = true
	if b.DoneAt.IsZero() {
		b.DoneAt = s.now()
	}
	if _, err := s.batch(run, phase, b.N).Create(ctx, &b); err != nil && !isAlreadyExists(err) {
		return false, fmt.Errorf("store.CompleteBatch: %w", err)
	}
	return s.CheckPhaseComplete(ctx, run, phase)
}

// CheckPhaseComplete counts the done batches of a phase and, when all are
// done, flips it pending→triggered. It reports whether the phase is
// triggered or beyond.
func (s *Store) CheckPhaseComplete(ctx context.Context, run, phase string) (bool, error) {
	p, err := s.GetPhase(ctx, run, phase)
	if err != nil {
		return false, fmt.Errorf("store.CheckPhaseComplete: %w", err)
	}
	if p.State != PhasePending {
		return true, nil
	}
	n, err := s.CountDoneBatches(ctx, run, phase)
	if err != nil {
		return false, fmt.Errorf("store.CheckPhaseComplete: %w", err)
	}
	if n < p.TotalBatches {
		return false, nil
	}
	var cur Phase
	err = s.modify(ctx, s.phase(run, phase), &cur, func() (bool, func(*firestore.WriteBatch), error) {
		if cur.State != PhasePending {
			return false, nil, nil
		}
		cur.State, cur.TriggeredAt = PhaseTriggered, s.now()
		return true, nil, nil
	})
	if err != nil {
		return false, fmt.Errorf("store.CheckPhaseComplete: %w", err)
	}
	return true, nil
}

// CountDoneBatches counts the done batches of a phase with an aggregation
// query (one read, whatever the count).
func (s *Store) CountDoneBatches(ctx context.Context, run, phase string) (int, error) {
	q := s.phase(run, phase).Collection("batches").Where("done", "==", true)
	res, err := q.NewAggregationQuery().WithCount("n").Get(ctx)
	if err != nil {
		return 0, fmt.Errorf("store.CountDoneBatches: %w", err)
	}
	return countOf(res["n"])
}

func countOf(v any) (int, error) {
	switch x := v.(type) {
	case int64:
		return int(x), nil
	case int:
		return x, nil
	case interface{ GetIntegerValue() int64 }:
		return int(x.GetIntegerValue()), nil
	}
	return 0, fmt.Errorf("unexpected count type %T", v)
}

// ClaimPhase moves a triggered phase to running under a lease held by
// holder. It returns the phase and whether the caller holds it; a phase
// already done is returned with ok=false. An expired lease is taken over,
// so a crashed aggregator's phase is finished by the redelivery.
func (s *Store) ClaimPhase(ctx context.Context, run, phase, holder string, lease time.Duration) (*Phase, bool, error) {
	var out Phase
	var ok bool
	err := s.modify(ctx, s.phase(run, phase), &out, func() (bool, func(*firestore.WriteBatch), error) {
		ok = false
		now := s.now()
		switch out.State {
		case PhaseTriggered:
		case PhaseRunning:
			if out.Lease != nil && out.Lease.Holder != holder && now.Before(out.Lease.Expires) {
				return false, nil, nil
			}
		default:
			return false, nil, nil
		}
		ok = true
		out.State = PhaseRunning
		out.Lease = &Lease{Holder: holder, Expires: now.Add(lease)}
		return true, nil, nil
	})
	if isNotFound(err) {
		return nil, false, fmt.Errorf("store.ClaimPhase %s: %w", phase, ErrNotFound)
	}
	if err != nil {
		return nil, false, fmt.Errorf("store.ClaimPhase %s: %w", phase, err)
	}
	return &out, ok, nil
}

// ReleasePhase hands a phase back (running→triggered) if holder still holds
// it, so the redelivery of a failed attempt need not wait for the lease to
// expire.
func (s *Store) ReleasePhase(ctx context.Context, run, phase, holder string) error {
	var cur Phase
	err := s.modify(ctx, s.phase(run, phase), &cur, func() (bool, func(*firestore.WriteBatch), error) {
		if cur.State != PhaseRunning || cur.Lease == nil || cur.Lease.Holder != holder {
			return false, nil, nil
		}
		cur.State, cur.Lease = PhaseTriggered, nil
		return true, nil, nil
	})
	if err != nil {
		return fmt.Errorf("store.ReleasePhase %s: %w", phase, err)
	}
	return nil
}

// FinishPhase moves a running phase to done with its metrics and adds the
// phase's errors (examples without a score) to the run's, in one atomic
// batch, so a duplicate message never counts them twice. The run's calls,
// tokens and cost are not added here: they are the sums of the run's spend
// ledger (RunSpend), which counts every attempt's calls, not only the
// attempts whose batches the phase kept.
func (s *Store) FinishPhase(ctx context.Context, run, phase string, metrics Phase) error {
	var cur Phase
	err := s.modify(ctx, s.phase(run, phase), &cur, func() (bool, func(*firestore.WriteBatch), error) {
		if cur.State == PhaseDone {
			return false, nil, nil
		}
		cur.State = PhaseDone
		cur.Metrics = metrics.Metrics
		cur.Corpus = metrics.Corpus
		cur.Usage = metrics.Usage
		cur.UsageByModel = metrics.UsageByModel
		cur.Lease = nil
		cur.DoneAt = s.now()
		ups := []firestore.Update{{FieldPath: firestore.FieldPath{"usage", "errors"}, Value: firestore.Increment(metrics.Usage.Errors)}}
		for key, u := range metrics.UsageByModel {
			if u.Errors == 0 {
				continue
			}
			// A field path, not a dotted string: model keys contain "/"
			// and may contain dots.
			ups = append(ups, firestore.Update{FieldPath: firestore.FieldPath{"usage_by_model", key, "errors"}, Value: firestore.Increment(u.Errors)})
		}
		return true, func(b *firestore.WriteBatch) {
			b.Update(s.run(run), ups)
		}, nil
	})
	if err != nil {
		return fmt.Errorf("store.FinishPhase %s: %w", phase, err)
	}
	return nil
}

// PutEpoch writes (replaces) an epoch document.
func (s *Store) PutEpoch(ctx context.Context, run string, e *Epoch) error {
	if _, err := s.run(run).Collection("epochs").Doc(fmt.Sprintf("%03d", e.N)).Set(ctx, e); err != nil {
		return fmt.Errorf("store.PutEpoch: %w", err)
	}
	return nil
}

// CreateEpoch creates an epoch document unless it exists, and returns the
// stored one: the first proposals of an epoch are the ones it keeps.
func (s *Store) CreateEpoch(ctx context.Context, run string, e *Epoch) (*Epoch, error) {
	_, err := s.run(run).Collection("epochs").Doc(fmt.Sprintf("%03d", e.N)).Create(ctx, e)
	if err == nil {
		return e, nil
	}
	if !isAlreadyExists(err) {
		return nil, fmt.Errorf("store.CreateEpoch: %w", err)
	}
	got, _, err := s.GetEpoch(ctx, run, e.N)
	return got, err
}

// GetEpoch reads an epoch; ok is false if it does not exist.
func (s *Store) GetEpoch(ctx context.Context, run string, n int) (*Epoch, bool, error) {
	snap, err := s.run(run).Collection("epochs").Doc(fmt.Sprintf("%03d", n)).Get(ctx)
	if isNotFound(err) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("store.GetEpoch: %w", err)
	}
	var e Epoch
	if err := snap.DataTo(&e); err != nil {
		return nil, false, fmt.Errorf("store.GetEpoch: %w", err)
	}
	return &e, true, nil
}

// ListEpochs lists a run's epochs in order.
func (s *Store) ListEpochs(ctx context.Context, run string) ([]*Epoch, error) {
	var out []*Epoch
	err := list(ctx, s.run(run).Collection("epochs").OrderBy("n", firestore.Asc), func(snap *firestore.DocumentSnapshot) error {
		var e Epoch
		if err := snap.DataTo(&e); err != nil {
			return err
		}
		out = append(out, &e)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("store.ListEpochs: %w", err)
	}
	return out, nil
}

// AddEvent writes an event. Its id is derived from key, so a duplicate
// delivery finds the event already there and adds no second line.
func (s *Store) AddEvent(ctx context.Context, run, key string, e Event) error {
	h := sha256.Sum256([]byte(key))
	if e.Time.IsZero() {
		e.Time = s.now()
	}
	if s.retention > 0 {
		e.ExpireAt = e.Time.Add(s.retention)
	}
	e.ID = fmt.Sprintf("%d-%s", e.Time.UnixMilli(), hex.EncodeToString(h[:6]))
	ref := s.run(run).Collection("events").Doc(hex.EncodeToString(h[:12]))
	if _, err := ref.Create(ctx, &e); err != nil && !isAlreadyExists(err) {
		return fmt.Errorf("store.AddEvent: %w", err)
	}
	return nil
}

// ListEvents lists a run's events in time order, after the given time.
func (s *Store) ListEvents(ctx context.Context, run string, after time.Time) ([]*Event, error) {
	q := s.run(run).Collection("events").OrderBy("time", firestore.Asc)
	if !after.IsZero() {
		q = q.Where("time", ">", after)
	}
	var out []*Event
	err := list(ctx, q, func(snap *firestore.DocumentSnapshot) error {
		var e Event
		if err := snap.DataTo(&e); err != nil {
			return err
		}
		out = append(out, &e)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("store.ListEvents: %w", err)
	}
	return out, nil
}

func list(ctx context.Context, q firestore.Query, fn func(*firestore.DocumentSnapshot) error) error {
	it := q.Documents(ctx)
	defer it.Stop()
	for {
		snap, err := it.Next()
		if errors.Is(err, iterator.Done) {
			return nil
		}
		if err != nil {
			return err
		}
		if err := fn(snap); err != nil {
			return err
		}
	}
}
