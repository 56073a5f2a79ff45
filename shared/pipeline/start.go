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
	"github.com/promptml/promptml/shared/errs"
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
	id, created, err := p.store.CreateRunForUpload(ctx, store.UploadKey(u.Bucket, u.Object, u.Generation), run)
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
	obj, err := p.datasetObject(ctx, req.Dataset)
	if err != nil {
		return nil, err
	}
	run := &store.Run{
		ID:     NewRunID(),
		Status: store.StatusRunning,
		Stage:  store.StageIntake,
		Source: store.Source{Kind: "api", Bucket: obj.Bucket, Object: obj.Name, Generation: obj.Generation},
	}
	if err := p.store.CreateRun(ctx, run); err != nil {
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
	return p.store.GetRun(ctx, run.ID)
}

// datasetObject checks that uri names an object of the datasets bucket
// and returns it at its current generation.
func (p *Pipeline) datasetObject(ctx context.Context, uri string) (blob.Object, error) {
	bucket, object, err := blob.ParseURI(uri)
	if err != nil {
		return blob.Object{}, errs.Invalid(err)
	}
	if bucket != p.cfg.DatasetsBucket {
		return blob.Object{}, errs.New(errs.InvalidArgument, "dataset must be in the datasets bucket gs://%s, got gs://%s", p.cfg.DatasetsBucket, bucket)
	}
	attrs, err := p.blob.Stat(ctx, bucket, object)
	if errors.Is(err, blob.ErrNotExist) {
		return blob.Object{}, errs.New(errs.InvalidArgument, "dataset %s does not exist", uri)
	}
	if err != nil {
		return blob.Object{}, fmt.Errorf("pipeline: stat %s: %w", uri, err)
	}
	return blob.Object{Store: p.blob, Bucket: bucket, Name: object, Generation: attrs.Generation}, nil
}

// resume carries a run from wherever its start stopped: intake if it has
// not finished (a bad input fails the run), else the first fan-out if it
// was not published.
func (p *Pipeline) resume(ctx context.Context, id string, override []byte) error {
	r, err := p.store.GetRun(ctx, id)
	if err != nil {
		return fmt.Errorf("pipeline.resume: %w", err)
	}
	if r.Terminal() {
		return nil
	}
	if r.Stage == store.StageIntake {
		r, err = p.intake(ctx, r, override)
		var bad *badInput
		if errors.As(err, &bad) {
			return p.fail(ctx, id, bad.re)
		}
		if err != nil {
			return err
		}
		if r.Terminal() {
			return nil
		}
	}
	if r.PublishedSeq < r.StageSeq {
		return p.fanOut(ctx, r)
	}
	return nil
}

// badInput is a config or CSV the intake refuses: the run fails with re.
type badInput struct{ re store.RunError }

func (e *badInput) Error() string { return e.re.Message }

// intake loads the config, validates and splits the CSV, writes the shards,
// creates prompt v0 and the baseline phases, and moves the run to the
// baseline stage; it returns the run as committed. A bad config or CSV is
// a *badInput.
func (p *Pipeline) intake(ctx context.Context, r *store.Run, override []byte) (*store.Run, error) {
	cfg, err := p.intakeConfig(ctx, r.Source, override)
	if err != nil {
		return nil, err
	}
	start := time.Now()
	obj := blob.Object{Store: p.blob, Bucket: r.Source.Bucket, Name: r.Source.Object, Generation: r.Source.Generation}
	m, splits, err := p.ingest(ctx, r.ID, obj, cfg)
	if err != nil {
		return nil, err
	}
	intakeEvent := store.OutboxEvent{Key: "intake", Event: store.Event{Kind: "intake", Message: fmt.Sprintf(
		"Dataset %s: %d rows (train %d, val %d, test %d) in %d+%d+%d batches of %d, validated and split in %s.",
		obj.URI(), m.Rows, m.Counts[dataset.Train], m.Counts[dataset.Val], m.Counts[dataset.Test],
		m.Batches[dataset.Train], m.Batches[dataset.Val], m.Batches[dataset.Test], cfg.BatchSize,
		time.Since(start).Round(time.Millisecond))}}
	v0, pending, err := p.baselinePhases(ctx, r.ID, cfg, m)
	if err != nil {
		return nil, err
	}
	cfgMap, err := cfg.ToMap()
	if err != nil {
		return nil, err
	}
	intaken := func(cur *store.Run) {
		cur.Config = cfgMap
		cur.Dataset = store.Dataset{
			URI: obj.URI(), Generation: obj.Generation, SHA256: m.SHA256, Bytes: m.Bytes, Rows: m.Rows,
			Counts: m.Counts, Batches: m.Batches, IgnoredColumns: m.IgnoredColumns,
			Variables: m.Variables, UnusedColumns: m.UnusedColumns,
		}
		cur.InitialPromptID, cur.IncumbentID = v0.ID, v0.ID
		cur.Stage, cur.StageSeq, cur.Pending = store.StageBaseline, cur.StageSeq+1, pending
	}
	stillIntake := func(cur *store.Run) bool { return cur.Stage == store.StageIntake }
	// Budget: a baseline the budget cannot pay for is not published; the
	// run ends with v0 exported.
	if why := baselineOverBudget(cfg, splits, p.cfg.EmbeddingModel); why != "" {
		if err := p.Export(ctx, r, v0); err != nil {
			return nil, err
		}
		e := budgetExhausted(0, v0.ID, 0, why)
		e.guard, e.events = stillIntake, []store.OutboxEvent{intakeEvent}
		e.with = func(cur *store.Run) {
			intaken(cur)
			cur.Stage, cur.Pending, cur.PublishedSeq = store.StageDone, nil, cur.StageSeq
		}
		out, _, err := p.end(ctx, r.ID, e)
		return out, err
	}
	return p.store.UpdateRun(ctx, r.ID, func(cur *store.Run) error {
		if !stillIntake(cur) || cur.Terminal() {
			return store.ErrSkip
		}
		intaken(cur)
		cur.Outbox = []store.OutboxEvent{intakeEvent, {Key: "baseline-start", Event: store.Event{Kind: "progress",
			Message: "Scoring the initial prompt on train and val."}}}
		return nil
	})
}

// intakeConfig merges the config layers of a run: the embedded defaults,
// the deployment's, the sidecar next to the CSV (read live), the
// request's.
func (p *Pipeline) intakeConfig(ctx context.Context, src store.Source, override []byte) (config.Run, error) {
	layers, err := p.layers(ctx, src.Bucket, src.Object, override)
	var tooLarge *sidecarTooLarge
	if errors.As(err, &tooLarge) {
		return config.Run{}, &badInput{store.RunError{Message: fmt.Sprintf("invalid config: %s: larger than the limit of %d bytes", tooLarge.name, maxSidecarBytes), Path: "(document)"}}
	}
	if err != nil {
		return config.Run{}, err
	}
	cfg, err := config.Load(layers...)
	if err == nil {
		err = p.cfg.Allowlist.Check(cfg)
	}
	if err != nil {
		re := store.RunError{Message: "invalid config: " + err.Error()}
		var fe *config.FieldError
		if errors.As(err, &fe) {
			re.Path = fe.Path
		}
		return config.Run{}, &badInput{re}
	}
	return cfg, nil
}

// sidecarTooLarge is a sidecar over maxSidecarBytes.
type sidecarTooLarge struct{ name string }

func (e *sidecarTooLarge) Error() string { return e.name + ": " + blob.ErrTooLarge.Error() }

// layers are the config layers over the embedded defaults for a CSV:
// the deployment's, its sidecar's if any, then override.
func (p *Pipeline) layers(ctx context.Context, bucket, object string, override []byte) ([]config.Layer, error) {
	layers := []config.Layer{}
	if len(p.cfg.Defaults) > 0 {
		layers = append(layers, config.Layer{Source: "deployment defaults", Data: p.cfg.Defaults})
	}
	sidecar := blob.SidecarName(object)
	b, err := p.blob.ReadAll(ctx, bucket, sidecar, maxSidecarBytes)
	switch {
	case err == nil:
		layers = append(layers, config.Layer{Source: sidecar, Data: b})
	case errors.Is(err, blob.ErrNotExist):
	case errors.Is(err, blob.ErrTooLarge):
		return nil, &sidecarTooLarge{sidecar}
	default:
		return nil, fmt.Errorf("pipeline: sidecar %s: %w", sidecar, err)
	}
	if len(override) > 0 {
		layers = append(layers, config.Layer{Source: "request", Data: override})
	}
	return layers, nil
}

// ingest validates and splits the CSV and writes its shards; the split's
// statistics feed the budget check of the baseline. A bad or too small
// dataset, or one replaced since the event, is a *badInput.
func (p *Pipeline) ingest(ctx context.Context, runID string, obj blob.Object, cfg config.Run) (*dataset.Manifest, map[string]SplitStats, error) {
	stats := &statsWriter{splits: map[string]SplitStats{}}
	m, err := dataset.Ingest(ctx, obj, dataset.Options{
		Ratios:    dataset.Ratios{Train: cfg.Split.Train, Val: cfg.Split.Val, Test: cfg.Split.Test},
		Seed:      cfg.Split.Seed,
		BatchSize: cfg.BatchSize,
		Limits:    dataset.Limits{MaxBytes: cfg.Limits.MaxBytes, MaxRows: cfg.Limits.MaxRows, MaxCellBytes: cfg.Limits.MaxCellBytes},
		Templates: promptTemplates(cfg.Prompt),
		// A valid file too small to train on is refused before any shard
		// is written: a failed run leaves nothing behind.
		Accept: func(m *dataset.Manifest) error {
			if m.Counts[dataset.Train] == 0 || m.Counts[dataset.Val] == 0 {
				return &tooSmallError{m}
			}
			return nil
		},
	}, teeWriter{shardWriter{p: p, run: runID}, stats})
	var de *dataset.Error
	var small *tooSmallError
	switch {
	case errors.As(err, &small):
		return nil, nil, &badInput{store.RunError{Message: small.Error()}}
	case errors.As(err, &de):
		return nil, nil, &badInput{store.RunError{Message: "invalid CSV " + obj.URI() + ": " + de.Error(), Row: de.Row, Column: de.Column}}
	case errors.Is(err, dataset.ErrInvalidOptions):
		return nil, nil, &badInput{store.RunError{Message: "invalid config: " + err.Error(), Path: "split"}}
	case errors.Is(err, blob.ErrNotExist):
		return nil, nil, &badInput{store.RunError{Message: obj.URI() + " no longer exists at generation " + fmt.Sprint(obj.Generation)}}
	case err != nil:
		return nil, nil, fmt.Errorf("pipeline.intake: %w", err)
	}
	return m, stats.splits, nil
}

// promptTemplates are the run's prompt templates, whose variables the
// intake checks against the CSV's columns.
func promptTemplates(p config.Prompt) []dataset.Template {
	return []dataset.Template{
		{Field: "prompt.system", Text: p.System},
		{Field: "prompt.user", Text: p.UserTemplate()},
		{Field: "prompt.output", Text: p.Output},
	}
}

// baselinePhases creates prompt v0 and its train and val phases.
func (p *Pipeline) baselinePhases(ctx context.Context, runID string, cfg config.Run, m *dataset.Manifest) (*store.Prompt, []string, error) {
	v0 := &store.Prompt{
		System:   cfg.Prompt.System,
		Output:   cfg.Prompt.Output,
		Examples: []store.Demo{},
		Status:   store.PromptInitial,
		Strategy: "initial",
		Scores:   map[string]eval.Summary{},
	}
	v0.ID = PromptID(v0.System, v0.Output, v0.Examples)
	if err := p.store.PutPrompt(ctx, runID, v0); err != nil {
		return nil, nil, err
	}
	var pending []string
	for _, split := range []string{dataset.Train, dataset.Val} {
		ph, err := p.store.EnsurePhase(ctx, runID, &store.Phase{
			ID: PhaseID(split, v0.ID), Split: split, PromptID: v0.ID, TotalBatches: m.Batches[split],
		})
		if err != nil {
			return nil, nil, err
		}
		pending = append(pending, ph.ID)
	}
	return v0, pending, nil
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
	return w.p.blob.Writer(ctx, w.p.cfg.ArtifactsBucket, blob.DataPath(w.run, split, batch), "application/x-ndjson"), nil
}
