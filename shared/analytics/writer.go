package analytics

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"cloud.google.com/go/bigquery"
	"google.golang.org/api/option"
)

// maxRowsPerRequest keeps one insertAll request well under BigQuery's
// documented limits (10 MB and 50,000 rows per request; 500 rows is the
// recommended batch size).
const maxRowsPerRequest = 500

// maxInsertIDLen bounds insert IDs; a longer key is replaced by its hash.
const maxInsertIDLen = 128

// Writer appends rows to the analytics tables of one BigQuery dataset.
//
// A nil *Writer is valid and writes nothing: the functions keep a nil Writer
// when PROMPTML_BIGQUERY_DATASET is empty, so analytics is off without a
// branch at every call site.
type Writer struct {
	client  *bigquery.Client
	dataset *bigquery.Dataset
	now     func() time.Time
}

// New returns a Writer for project's dataset. opts are passed to the BigQuery
// client (tests point it at a local fake with option.WithEndpoint).
func New(ctx context.Context, project, dataset string, opts ...option.ClientOption) (*Writer, error) {
	if project == "" || dataset == "" {
		return nil, errors.New("analytics.New: project and dataset are required")
	}
	client, err := bigquery.NewClient(ctx, project, opts...)
	if err != nil {
		return nil, fmt.Errorf("analytics.New: %w", err)
	}
	return &Writer{client: client, dataset: client.Dataset(dataset), now: time.Now}, nil
}

// Close releases the BigQuery client.
func (w *Writer) Close() error {
	if w == nil {
		return nil
	}
	if err := w.client.Close(); err != nil {
		return fmt.Errorf("analytics.Close: %w", err)
	}
	return nil
}

// InsertRuns appends run snapshots to the runs table.
func (w *Writer) InsertRuns(ctx context.Context, rows []RunRow) error {
	err := insert(ctx, w, RunsTable, rows, func(r *RunRow, now time.Time) string {
		stamp(&r.InsertedAt, now)
		return r.RunID
	})
	if err != nil {
		return fmt.Errorf("analytics.InsertRuns: %w", err)
	}
	return nil
}

// InsertEpochs appends epoch outcomes to the epochs table.
func (w *Writer) InsertEpochs(ctx context.Context, rows []EpochRow) error {
	err := insert(ctx, w, EpochsTable, rows, func(r *EpochRow, now time.Time) string {
		stamp(&r.InsertedAt, now)
		return r.RunID + "/" + strconv.FormatInt(r.Epoch, 10)
	})
	if err != nil {
		return fmt.Errorf("analytics.InsertEpochs: %w", err)
	}
	return nil
}

// InsertPrompts appends prompt-version snapshots to the prompt_versions table.
func (w *Writer) InsertPrompts(ctx context.Context, rows []PromptRow) error {
	err := insert(ctx, w, PromptVersionsTable, rows, func(r *PromptRow, now time.Time) string {
		stamp(&r.InsertedAt, now)
		return r.RunID + "/" + r.PromptID
	})
	if err != nil {
		return fmt.Errorf("analytics.InsertPrompts: %w", err)
	}
	return nil
}

// InsertResults appends per-example results to the example_results table.
func (w *Writer) InsertResults(ctx context.Context, rows []ResultRow) error {
	err := insert(ctx, w, ExampleResultsTable, rows, func(r *ResultRow, now time.Time) string {
		stamp(&r.InsertedAt, now)
		return r.RunID + "/" + r.PhaseID + "/" + r.ExampleID
	})
	if err != nil {
		return fmt.Errorf("analytics.InsertResults: %w", err)
	}
	return nil
}

// InsertModelUsage appends usage by model to the model_usage table.
func (w *Writer) InsertModelUsage(ctx context.Context, rows []ModelUsageRow) error {
	err := insert(ctx, w, ModelUsageTable, rows, func(r *ModelUsageRow, now time.Time) string {
		stamp(&r.InsertedAt, now)
		return r.RunID + "/" + r.Scope + "/" + r.Unit + "/" + r.Model
	})
	if err != nil {
		return fmt.Errorf("analytics.InsertModelUsage: %w", err)
	}
	return nil
}

func stamp(t *time.Time, now time.Time) {
	if t.IsZero() {
		*t = now.UTC()
	}
}

// insert converts rows to savers with deterministic insert IDs and streams
// them in chunks. prepare stamps a row and returns its key.
func insert[T any](ctx context.Context, w *Writer, table string, rows []T, prepare func(*T, time.Time) string) error {
	if w == nil || len(rows) == 0 {
		return nil
	}
	now := w.now()
	savers := make([]bigquery.ValueSaver, 0, len(rows))
	for i := range rows {
		r := rows[i] // a copy: stamping must not change the caller's slice
		key := prepare(&r, now)
		s, err := newSaver(table, &r, key)
		if err != nil {
			return err
		}
		savers = append(savers, s)
	}
	ins := w.dataset.Table(table).Inserter()
	for start := 0; start < len(savers); start += maxRowsPerRequest {
		end := min(start+maxRowsPerRequest, len(savers))
		if err := ins.Put(ctx, savers[start:end]); err != nil {
			return fmt.Errorf("insert into %s: %w", table, err)
		}
	}
	return nil
}

// saver is a converted row with its insert ID.
type saver struct {
	row map[string]bigquery.Value
	id  string
}

// Save implements bigquery.ValueSaver.
func (s saver) Save() (map[string]bigquery.Value, string, error) {
	return s.row, s.id, nil
}

// newSaver converts row with the table's schema. Zero times and empty
// repeated fields are left out, which BigQuery stores as NULL (or an empty
// array), instead of year 1 or a rejected null array.
//
// The insert ID is the row's key plus a hash of its content without
// inserted_at: a retried insert of the same snapshot (same ID) is dropped by
// BigQuery's best-effort de-duplication, while a changed snapshot of the same
// key gets a new ID and is kept.
func newSaver(table string, row any, key string) (saver, error) {
	m, _, err := (&bigquery.StructSaver{Schema: schemas[table], Struct: row}).Save()
	if err != nil {
		return saver{}, fmt.Errorf("convert %s row %q: %w", table, key, err)
	}
	for k, v := range m {
		if v == nil {
			delete(m, k)
			continue
		}
		if t, ok := v.(time.Time); ok {
			if t.IsZero() {
				delete(m, k)
			} else {
				m[k] = t.UTC()
			}
		}
	}
	content := make(map[string]bigquery.Value, len(m))
	for k, v := range m {
		if k != "inserted_at" {
			content[k] = v
		}
	}
	b, err := json.Marshal(content) // map keys are sorted: stable bytes
	if err != nil {
		return saver{}, fmt.Errorf("hash %s row %q: %w", table, key, err)
	}
	return saver{row: m, id: insertID(key, b)}, nil
}

func insertID(key string, content []byte) string {
	sum := sha256.Sum256(content)
	id := key + "/" + hex.EncodeToString(sum[:8])
	if len(id) > maxInsertIDLen {
		k := sha256.Sum256([]byte(key))
		id = hex.EncodeToString(k[:16]) + "/" + hex.EncodeToString(sum[:8])
	}
	return id
}
