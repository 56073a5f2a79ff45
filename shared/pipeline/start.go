package pipeline

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/promptml/promptml/shared/blob"
	"github.com/promptml/promptml/shared/config"
	"github.com/promptml/promptml/shared/dataset"
	"github.com/promptml/promptml/shared/eval"
	"github.com/promptml/promptml/shared/logging"
	"github.com/promptml/promptml/shared/store"
)

// maxSidecarBytes bounds a sidecar config: it is a few lines of YAML.
const maxSidecarBytes = 1 << 20

// Upload is a finalized object in the datasets bucket.
type Upload struct {
	Bucket     string
	Object     string
	Generation int64
}

// StartFromUpload starts a run for an uploaded CSV. A redelivered event
// (same bucket, object and generation) starts nothing new: it finishes or
// republishes what the first delivery started. Objects that are not CSV
// files are ignored.
func (p *Pipeline) StartFromUpload(ctx context.Context, u Upload) (string, error) {
	if !strings.HasSuffix(strings.ToLower(u.Object), ".csv") {
		logging.FromContext(ctx).Info("ignoring non-CSV object", "object", u.Object)
		return "", nil
	}
	run := &store.Run{
		ID:     NewRunID(),
		Status: store.StatusRunning,
		Stage:  store.StageIntake,
		Source: store.Source{Kind: "upload", Bucket: u.Bucket, Object: u.Object, Generation: u.Generation},
	}
	id, created, err := p.Store.CreateRunForUpload(ctx, store.UploadKey(u.Bucket, u.Object, u.Generation), run)
	if err != nil {
		return "", fmt.Errorf("pipeline.StartFromUpload: %w", err)
	}
	ctx = logging.With(ctx, "run_id", id)
	if created {
		p.event(ctx, id, "created", store.Event{Kind: "created",
			Message: fmt.Sprintf("Run created for upload gs://%s/%s (generation %d).", u.Bucket, u.Object, u.Generation)})
	} else {
		logging.FromContext(ctx).Info("upload already started a run", "object", u.Object)
	}
	return id, p.resume(ctx, id, nil)
}

// StartRequest is a POST /runs call.
type StartRequest struct {
	// Dataset is gs://bucket/object.csv; it must be in the datasets bucket.
	Dataset string
	// Config is a YAML or JSON layer over the defaults and the sidecar.
	Config []byte
}

// StartFromAPI starts a run for a CSV named by URI. Bad input (URI, config,
// CSV) comes back as a failed run, not an error, so the caller can show it.
func (p *Pipeline) StartFromAPI(ctx context.Context, req StartRequest) (*store.Run, error) {
	bucket, object, err := blob.ParseURI(req.Dataset)
	if err != nil {
		return nil, &PermanentError{Err: err}
	}
	if bucket != p.DatasetsBucket {
		return nil, &PermanentError{Err: fmt.Errorf("dataset must be in the datasets bucket gs://%s, got gs://%s", p.DatasetsBucket, bucket)}
	}
	attrs, err := p.Blob.Stat(ctx, bucket, object)
	if errors.Is(err, blob.ErrNotExist) {
		return nil, &PermanentError{Err: fmt.Errorf("dataset %s does not exist", req.Dataset)}
	}
	if err != nil {
		return nil, fmt.Errorf("pipeline.StartFromAPI: %w", err)
	}
	run := &store.Run{
		ID:     NewRunID(),
		Status: store.StatusRunning,
		Stage:  store.StageIntake,
		Source: store.Source{Kind: "api", Bucket: bucket, Object: object, Generation: attrs.Generation},
	}
	if err := p.Store.CreateRun(ctx, run); err != nil {
		return nil, fmt.Errorf("pipeline.StartFromAPI: %w", err)
	}
	// The intake and its fan-out must not stop half-way when the caller
	// goes away: no message would ever resume an API run.
	ctx = context.WithoutCancel(logging.With(ctx, "run_id", run.ID))
	p.event(ctx, run.ID, "created", store.Event{Kind: "created", Message: fmt.Sprintf("Run created by the API for %s.", req.Dataset)})
	if err := p.resume(ctx, run.ID, req.Config); err != nil {
		// Nothing will resume an API run (no message carries it): end it
		// now, so it is not left "running", and let the caller retry.
		if ferr := p.fail(ctx, run.ID, store.RunError{Message: "intake interrupted: " + err.Error() + "; start the run again"}); ferr != nil {
			logging.FromContext(ctx).Error("run left in intake", "error", ferr.Error())
		}
		return nil, err
	}
	return p.Store.GetRun(ctx, run.ID)
}

// resume carries a run from wherever its start stopped: intake if it has
// not finished, else the first fan-out if it was not published.
func (p *Pipeline) resume(ctx context.Context, id string, override []byte) error {
	r, err := p.Store.GetRun(ctx, id)
	if err != nil {
		return fmt.Errorf("pipeline.resume: %w", err)
	}
	if r.Terminal() {
		return nil
	}
	if r.Stage == store.StageIntake {
		if r, err = p.intake(ctx, r, override); err != nil || r == nil {
			return err
		}
	}
	if r.PublishedSeq < r.StageSeq {
		return p.fanOut(ctx, r)
	}
	return nil
}

// intake loads the config, validates and splits the CSV, writes the shards,
// creates prompt v0 and the baseline phases, and moves the run to the
// baseline stage. A bad config or CSV fails the run (nil run, nil error).
func (p *Pipeline) intake(ctx context.Context, r *store.Run, override []byte) (*store.Run, error) {
	src := r.Source
	layers := []config.Layer{}
	if len(p.Defaults) > 0 {
		layers = append(layers, config.Layer{Source: "deployment defaults", Data: p.Defaults})
	}
	sidecar := blob.SidecarName(src.Object)
	b, err := p.Blob.ReadAll(ctx, src.Bucket, sidecar, maxSidecarBytes)
	switch {
	case err == nil:
		layers = append(layers, config.Layer{Source: sidecar, Data: b})
	case errors.Is(err, blob.ErrNotExist):
	case errors.Is(err, blob.ErrTooLarge):
		return nil, p.fail(ctx, r.ID, store.RunError{Message: fmt.Sprintf("invalid config: %s: larger than the limit of %d bytes", sidecar, maxSidecarBytes), Path: "(document)"})
	default:
		return nil, fmt.Errorf("pipeline.intake: sidecar: %w", err)
	}
	if len(override) > 0 {
		layers = append(layers, config.Layer{Source: "request", Data: override})
	}
	cfg, err := config.Load(layers...)
	if err == nil {
		err = p.Allowlist.Check(cfg)
	}
	if err != nil {
		re := store.RunError{Message: "invalid config: " + err.Error()}
		var fe *config.FieldError
		if errors.As(err, &fe) {
			re.Path = fe.Path
		}
		return nil, p.fail(ctx, r.ID, re)
	}
	cfgMap, err := cfg.ToMap()
	if err != nil {
		return nil, err
	}

	obj := blob.Object{Store: p.Blob, Bucket: src.Bucket, Name: src.Object, Generation: src.Generation}
	start := time.Now()
	// The split's statistics feed the budget check of the baseline.
	stats := &statsWriter{splits: map[string]SplitStats{}}
	m, err := dataset.Ingest(ctx, obj, dataset.Options{
		Ratios:    dataset.Ratios{Train: cfg.Split.Train, Val: cfg.Split.Val, Test: cfg.Split.Test},
		Seed:      cfg.Split.Seed,
		BatchSize: cfg.BatchSize,
		Limits:    dataset.Limits{MaxBytes: cfg.Limits.MaxBytes, MaxRows: cfg.Limits.MaxRows, MaxCellBytes: cfg.Limits.MaxCellBytes},
		// A valid file too small to train on is refused before any shard
		// is written: a failed run leaves nothing behind.
		Accept: func(m *dataset.Manifest) error {
			if m.Counts[dataset.Train] == 0 || m.Counts[dataset.Val] == 0 {
				return &tooSmallError{m}
			}
			return nil
		},
	}, teeWriter{shardWriter{p: p, run: r.ID}, stats})
	var de *dataset.Error
	var small *tooSmallError
	switch {
	case errors.As(err, &small):
		return nil, p.fail(ctx, r.ID, store.RunError{Message: small.Error()})
	case errors.As(err, &de):
		return nil, p.fail(ctx, r.ID, store.RunError{Message: "invalid CSV " + obj.URI() + ": " + de.Error(), Row: de.Row, Column: de.Column})
	case errors.Is(err, dataset.ErrInvalidOptions):
		return nil, p.fail(ctx, r.ID, store.RunError{Message: "invalid config: " + err.Error(), Path: "split"})
	case errors.Is(err, blob.ErrNotExist):
		return nil, p.fail(ctx, r.ID, store.RunError{Message: obj.URI() + " no longer exists at generation " + fmt.Sprint(src.Generation)})
	case err != nil:
		return nil, fmt.Errorf("pipeline.intake: %w", err)
	}
	p.event(ctx, r.ID, "intake", store.Event{Kind: "intake", Message: fmt.Sprintf(
		"Dataset %s: %d rows (train %d, val %d, test %d) in %d+%d+%d batches of %d, validated and split in %s.",
		obj.URI(), m.Rows, m.Counts[dataset.Train], m.Counts[dataset.Val], m.Counts[dataset.Test],
		m.Batches[dataset.Train], m.Batches[dataset.Val], m.Batches[dataset.Test], cfg.BatchSize,
		time.Since(start).Round(time.Millisecond))})

	v0 := &store.Prompt{
		System:   cfg.Prompt.System,
		Output:   cfg.Prompt.Output,
		Examples: []store.Demo{},
		Status:   store.PromptInitial,
		Strategy: "initial",
		Scores:   map[string]eval.Summary{},
	}
	v0.ID = PromptID(v0.System, v0.Output, v0.Examples)
	if err := p.Store.PutPrompt(ctx, r.ID, v0); err != nil {
		return nil, err
	}
	var pending []string
	for _, split := range []string{dataset.Train, dataset.Val} {
		ph, err := p.Store.EnsurePhase(ctx, r.ID, &store.Phase{
			ID: PhaseID(split, v0.ID), Split: split, PromptID: v0.ID, TotalBatches: m.Batches[split],
		})
		if err != nil {
			return nil, err
		}
		pending = append(pending, ph.ID)
	}
	// Budget hook: a baseline the budget cannot pay for is not published.
	exhausted := baselineOverBudget(cfg, stats.splits, p.EmbeddingModel)
	if exhausted != "" {
		if err := p.Export(ctx, r, v0); err != nil {
			return nil, err
		}
	}
	out, err := p.Store.UpdateRun(ctx, r.ID, func(cur *store.Run) error {
		if cur.Stage != store.StageIntake || cur.Terminal() {
			return store.ErrSkip
		}
		cur.Config = cfgMap
		cur.Dataset = store.Dataset{
			URI: obj.URI(), Generation: src.Generation, SHA256: m.SHA256, Bytes: m.Bytes, Rows: m.Rows,
			Counts: m.Counts, Batches: m.Batches, IgnoredColumns: m.IgnoredColumns,
		}
		cur.InitialPromptID, cur.IncumbentID = v0.ID, v0.ID
		cur.Stage, cur.StageSeq, cur.Pending = store.StageBaseline, cur.StageSeq+1, pending
		if exhausted != "" {
			// Nothing is published: the run ends with v0 exported.
			cur.Stage, cur.Pending = store.StageDone, nil
			cur.Status, cur.FinishedAt = store.StatusBudgetExhausted, time.Now()
			cur.PublishedSeq = cur.StageSeq
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if out.Terminal() {
		if out.Status == store.StatusBudgetExhausted && exhausted != "" {
			p.budgetEvent(ctx, r.ID, 0, v0.ID, 0, exhausted)
			p.reportRun(ctx, out)
		}
		return nil, nil
	}
	p.event(ctx, r.ID, "baseline-start", store.Event{Kind: "progress",
		Message: "Scoring the initial prompt on train and val."})
	return out, nil
}

// tooSmallError is a valid dataset whose split leaves no train or no val
// example.
type tooSmallError struct{ m *dataset.Manifest }

func (e *tooSmallError) Error() string {
	return fmt.Sprintf("dataset too small: %d rows gave %d train and %d val examples; at least one of each is needed",
		e.m.Rows, e.m.Counts[dataset.Train], e.m.Counts[dataset.Val])
}

// shardWriter writes the split's shards to the artifacts bucket.
type shardWriter struct {
	p   *Pipeline
	run string
}

func (w shardWriter) Create(ctx context.Context, split string, batch int) (io.WriteCloser, error) {
	return w.p.Blob.Writer(ctx, w.p.ArtifactsBucket, blob.DataPath(w.run, split, batch), "application/x-ndjson"), nil
}
