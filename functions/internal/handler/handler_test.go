package handler

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"testing"

	cloudevents "github.com/cloudevents/sdk-go/v2"

	"github.com/promptml/promptml/shared/errs"
	"github.com/promptml/promptml/shared/logging"
	"github.com/promptml/promptml/shared/pipeline"
	"github.com/promptml/promptml/shared/queue"
	"github.com/promptml/promptml/shared/store"
)

func TestClassify(t *testing.T) {
	transient := errors.New("firestore: deadline exceeded")
	tests := []struct {
		name string
		err  error
		// retry: Classify returns err itself (redelivered); otherwise nil
		// (acked).
		retry bool
		// severity is the level logged ("" = nothing logged).
		severity string
	}{
		{"nil", nil, false, ""},
		{"permanent", errs.Invalid(errors.New("bad csv")), false, "ERROR"},
		{"wrapped permanent", fmt.Errorf("start: %w", errs.Invalid(errors.New("bad csv"))), false, "ERROR"},
		{"bad message", fmt.Errorf("%w: version 9", queue.ErrBadMessage), false, "ERROR"},
		{"run not found", fmt.Errorf("pipeline.Aggregate: %w", fmt.Errorf("store.GetRun r: %w", store.ErrNotFound)), false, "ERROR"},
		{"joined with a permanent one", errors.Join(transient, errs.Invalid(errors.New("x"))), false, "ERROR"},
		{"transient", transient, true, "WARNING"},
		{"wrapped transient", fmt.Errorf("pipeline.RunBatch: %w", transient), true, "WARNING"},
		{"busy", fmt.Errorf("pipeline.Aggregate: %w", pipeline.ErrBusy), true, "INFO"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var logs bytes.Buffer
			ctx := logging.WithLogger(t.Context(), logging.New(&logs, "debug"))
			got := Classify(ctx, tt.err)
			if tt.retry && got != tt.err {
				t.Errorf("Classify(%v) = %v, want the error itself (retried)", tt.err, got)
			}
			if !tt.retry && got != nil {
				t.Errorf("Classify(%v) = %v, want nil (acked)", tt.err, got)
			}
			if tt.severity == "" {
				if logs.Len() != 0 {
					t.Errorf("Classify(nil) logged %s", logs.String())
				}
				return
			}
			var rec struct {
				Severity string `json:"severity"`
				Error    string `json:"error"`
			}
			if err := json.Unmarshal(logs.Bytes(), &rec); err != nil {
				t.Fatalf("log %q: %v", logs.String(), err)
			}
			if rec.Severity != tt.severity || rec.Error != tt.err.Error() {
				t.Errorf("logged %s %q, want %s %q", rec.Severity, rec.Error, tt.severity, tt.err.Error())
			}
		})
	}
}

func newEvent(t *testing.T, id string, data any) cloudevents.Event {
	t.Helper()
	e := cloudevents.NewEvent()
	e.SetID(id)
	e.SetSource("//pubsub.googleapis.com/projects/p/topics/promptml-batches")
	e.SetType("google.cloud.pubsub.topic.v1.messagePublished")
	if data != nil {
		if err := e.SetData(cloudevents.ApplicationJSON, data); err != nil {
			t.Fatal(err)
		}
	}
	return e
}

func TestDeliveryID(t *testing.T) {
	tests := []struct {
		name string
		data any
		want string
	}{
		{"Pub/Sub message id preferred", json.RawMessage(`{"message":{"data":"e30=","messageId":"1234567890"},"subscription":"projects/p/subscriptions/s"}`), "1234567890"},
		{"no message id", json.RawMessage(`{"message":{"data":"e30="}}`), "evt-42"},
		{"empty message id", json.RawMessage(`{"message":{"messageId":""}}`), "evt-42"},
		{"storage event", json.RawMessage(`{"bucket":"b","name":"x.csv","generation":"1"}`), "evt-42"},
		{"not JSON", json.RawMessage(`"just a string"`), "evt-42"},
		{"no data", nil, "evt-42"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEvent(t, "evt-42", tt.data)
			got, again := DeliveryID(e), DeliveryID(e)
			if !strings.HasPrefix(got, tt.want+"/") {
				t.Errorf("DeliveryID = %q, want %q/<random>", got, tt.want)
			}
			// Two invocations of one message must never share a lease.
			if got == again {
				t.Errorf("DeliveryID gave %q twice", got)
			}
		})
	}
}

// Context's logger writes to the instance's stdout tagged with the
// function and the event id.
func TestContextTagsLogger(t *testing.T) {
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout := os.Stdout
	os.Stdout = w
	ctx := Context(t.Context(), "RunBatch", newEvent(t, "evt-7", nil))
	os.Stdout = stdout
	logging.FromContext(ctx).Info("hello")
	w.Close()
	out, err := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	var rec map[string]any
	if err := json.Unmarshal(out, &rec); err != nil {
		t.Fatalf("log %q: %v", out, err)
	}
	for k, want := range map[string]string{"function": "RunBatch", "event_id": "evt-7", "message": "hello"} {
		if rec[k] != want {
			t.Errorf("log %s = %v, want %q (record %s)", k, rec[k], want, out)
		}
	}
}

// TestColdStart runs ColdStart in a child process (it exits on a bad
// configuration) and checks the exit status and the message.
func TestColdStart(t *testing.T) {
	if os.Getenv("HANDLER_COLD_START_CHILD") == "1" {
		ColdStart("API")
		return
	}
	tests := []struct {
		name     string
		env      []string
		wantExit int
		wantLog  string
	}{
		{"other function", []string{"FUNCTION_TARGET=RunBatch"}, 0, ""},
		{"missing variables", []string{"FUNCTION_TARGET=API"}, 1, "PROMPTML_PROJECT is required"},
		{"valid", []string{"FUNCTION_TARGET=API", "PROMPTML_PROJECT=p", "PROMPTML_DATASETS_BUCKET=d", "PROMPTML_ARTIFACTS_BUCKET=a"}, 0, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cmd := exec.CommandContext(t.Context(), os.Args[0], "-test.run=^TestColdStart$")
			cmd.Env = append([]string{"HANDLER_COLD_START_CHILD=1", "PATH=" + os.Getenv("PATH")}, tt.env...)
			out, err := cmd.CombinedOutput()
			code := 0
			var ee *exec.ExitError
			if errors.As(err, &ee) {
				code = ee.ExitCode()
			} else if err != nil {
				t.Fatal(err)
			}
			if code != tt.wantExit || !strings.Contains(string(out), tt.wantLog) {
				t.Errorf("exit %d, output %q; want exit %d mentioning %q", code, out, tt.wantExit, tt.wantLog)
			}
		})
	}
}
