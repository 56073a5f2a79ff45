package pipeline

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"path"
	"strings"
	"time"

	"github.com/promptml/promptml/shared/blob"
	"github.com/promptml/promptml/shared/store"
)

// UploadRequest is a CSV sent to the API (the CLI's local file, the
// dashboard's form) rather than named by a gs:// URI.
type UploadRequest struct {
	// Name is the file's name as the user had it (only its base is kept).
	Name string
	// CSV is the file's content.
	CSV []byte
	// Config is a YAML or JSON run config; it is stored as the CSV's
	// sidecar. Empty means the defaults.
	Config []byte
}

// UploadPrefix is where StartFromCSV stores the files it receives in the
// datasets bucket, one folder per upload.
const UploadPrefix = "uploads/"

// StartFromCSV stores a CSV (and its config as the sidecar) in the datasets
// bucket, then starts its run as an upload would. The object's finalize
// event, delivered to OnDatasetUpload as well, finds the same upload key
// and starts nothing new. Like StartFromAPI, a bad config or CSV comes back
// as a failed run, not an error.
func (p *Pipeline) StartFromCSV(ctx context.Context, req UploadRequest) (*store.Run, error) {
	// Nothing would resume a run whose intake stopped because the caller
	// went away before the storage event arrived.
	ctx = context.WithoutCancel(ctx)
	object := UploadObject(req.Name, time.Now())
	if len(req.Config) > 0 {
		if err := p.blob.Write(ctx, p.cfg.DatasetsBucket, blob.SidecarName(object), "application/yaml", req.Config); err != nil {
			return nil, fmt.Errorf("pipeline.StartFromCSV: sidecar: %w", err)
		}
	}
	w := p.blob.Writer(ctx, p.cfg.DatasetsBucket, object, "text/csv")
	if _, err := w.Write(req.CSV); err != nil {
		_ = w.Close()
		return nil, fmt.Errorf("pipeline.StartFromCSV: %w", err)
	}
	if err := w.Close(); err != nil {
		return nil, fmt.Errorf("pipeline.StartFromCSV: %w", err)
	}
	attrs, err := p.blob.Stat(ctx, p.cfg.DatasetsBucket, object)
	if err != nil {
		return nil, fmt.Errorf("pipeline.StartFromCSV: %w", err)
	}
	id, err := p.StartFromUpload(ctx, Upload{Bucket: p.cfg.DatasetsBucket, Object: object, Generation: attrs.Generation})
	if err != nil {
		return nil, err
	}
	return p.store.GetRun(ctx, id)
}

// sidecarSource names a sidecar layer in config errors as the user knows
// it (issue 17 item 5): the config sent with an upload (the CLI's --config,
// the dashboard's form) is "the config uploaded with NAME.csv", not the
// object it is stored as (uploads/<time>-<random>/NAME.yaml); a sidecar the
// user put in the bucket keeps its object name.
func sidecarSource(object, sidecar string) string {
	if strings.HasPrefix(object, UploadPrefix) {
		return "the config uploaded with " + path.Base(object)
	}
	return sidecar
}

// UploadObject names an uploaded CSV: uploads/<time>-<random>/<name>.csv,
// with the name reduced to letters, digits, '.', '-' and '_' so it is a
// plain object name, and ".csv" added if it lacks it (the trigger and the
// simulator's answer key look at *.csv objects only).
func UploadObject(name string, now time.Time) string {
	var rnd [4]byte
	_, _ = rand.Read(rnd[:])
	return fmt.Sprintf("%s%s-%s/%s", UploadPrefix, now.UTC().Format("20060102-150405"), hex.EncodeToString(rnd[:]), blob.CleanName(name))
}
