// Package ondatasetupload is the OnDatasetUpload function: a CSV finalized in
// the datasets bucket starts a run (with the sidecar <name>.yaml config if
// one was uploaded before it).
package ondatasetupload

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/GoogleCloudPlatform/functions-framework-go/functions"
	cloudevents "github.com/cloudevents/sdk-go/v2"

	"github.com/promptml/promptml/functions/internal/handler"
	"github.com/promptml/promptml/shared/errs"
	"github.com/promptml/promptml/shared/logging"
	"github.com/promptml/promptml/shared/pipeline"
	"github.com/promptml/promptml/shared/serverenv"
)

func init() {
	functions.CloudEvent("OnDatasetUpload", Handle)
	handler.ColdStart("OnDatasetUpload")
}

// objectData is the part of a google.cloud.storage.object.v1.finalized
// event's StorageObjectData the start needs.
type objectData struct {
	Bucket     string `json:"bucket"`
	Name       string `json:"name"`
	Generation string `json:"generation"`
}

// Decode extracts the upload from a storage event.
func Decode(e cloudevents.Event) (pipeline.Upload, error) {
	var d objectData
	if err := json.Unmarshal(e.Data(), &d); err != nil {
		return pipeline.Upload{}, errs.Invalid(fmt.Errorf("storage event data: %w", err))
	}
	if d.Bucket == "" || d.Name == "" {
		return pipeline.Upload{}, errs.Invalid(fmt.Errorf("storage event without bucket or name"))
	}
	if !validObjectName(d.Name) {
		return pipeline.Upload{}, errs.Invalid(fmt.Errorf("storage event with an invalid object name %q", clip(d.Name)))
	}
	gen, err := strconv.ParseInt(d.Generation, 10, 64)
	if err != nil || gen <= 0 {
		return pipeline.Upload{}, errs.Invalid(fmt.Errorf("storage event with bad generation %q", d.Generation))
	}
	return pipeline.Upload{Bucket: d.Bucket, Object: d.Name, Generation: gen}, nil
}

// validObjectName applies Cloud Storage's rules for object names (1 to 1024
// bytes of UTF-8, no CR or LF) plus no NUL, so that a forged event cannot
// carry a name no real upload has.
func validObjectName(s string) bool {
	return len(s) <= 1024 && utf8.ValidString(s) && !strings.ContainsAny(s, "\x00\r\n")
}

// clip shortens a name quoted in an error message.
func clip(s string) string {
	if len(s) > 100 {
		return strings.ToValidUTF8(s[:100], "") + "…"
	}
	return s
}

// Handle starts a run for the uploaded object.
func Handle(ctx context.Context, e cloudevents.Event) error {
	ctx = handler.Context(ctx, "OnDatasetUpload", e)
	if err := handler.CheckSize(ctx, e); err != nil {
		return err
	}
	env, err := serverenv.Instance(ctx)
	if err != nil {
		return handler.Classify(ctx, err)
	}
	u, err := Decode(e)
	if err != nil {
		return handler.Classify(ctx, err)
	}
	if u.Bucket != env.Config.DatasetsBucket {
		return handler.Classify(ctx, errs.Invalid(fmt.Errorf("event for bucket %q, not the datasets bucket %q", u.Bucket, env.Config.DatasetsBucket)))
	}
	id, err := env.Pipeline.StartFromUpload(ctx, u)
	if err == nil && id != "" {
		logging.FromContext(ctx).Info("run started", "run_id", id, "object", u.Object, "generation", u.Generation)
	}
	return handler.Classify(ctx, err)
}
