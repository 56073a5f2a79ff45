// Package handler holds what the function entry points share: the request
// logger and the one place errors are classified into "retry" (returned to
// Pub/Sub or Eventarc) and "ack" (logged).
package handler

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"os"

	cloudevents "github.com/cloudevents/sdk-go/v2"
	cehttp "github.com/cloudevents/sdk-go/v2/protocol/http"

	"github.com/promptml/promptml/shared/errs"
	"github.com/promptml/promptml/shared/logging"
	"github.com/promptml/promptml/shared/serverenv"
)

// ColdStart validates the instance's configuration when this process
// serves the function name (FUNCTION_TARGET, as Cloud Functions and the
// local cloud set it), and exits with the reason if it is invalid: a
// misconfigured deployment then fails at once, with the message in the
// logs, instead of at its first event.
func ColdStart(name string) {
	if os.Getenv("FUNCTION_TARGET") != name {
		return
	}
	if _, err := serverenv.FromEnv(); err != nil {
		logging.Default().Error("invalid function configuration; exiting", "function", name, "error", err.Error())
		os.Exit(1)
	}
}

// Context returns ctx with the instance logger, tagged with the function
// and the event id.
func Context(ctx context.Context, function string, e cloudevents.Event) context.Context {
	l := logging.Default().With("function", function, "event_id", e.ID())
	return logging.WithLogger(ctx, l)
}

// DeliveryID identifies one invocation: the Pub/Sub message id (or the
// event id) plus a random suffix, because Pub/Sub may deliver the same
// message twice at once and two invocations must never share a lease.
func DeliveryID(e cloudevents.Event) string {
	var d struct {
		Message struct {
			ID string `json:"messageId"`
		} `json:"message"`
	}
	id := e.ID()
	if err := json.Unmarshal(e.Data(), &d); err == nil && d.Message.ID != "" {
		id = d.Message.ID
	}
	var b [6]byte
	_, _ = rand.Read(b[:])
	return id + "/" + hex.EncodeToString(b[:])
}

// Classify decides the fate of a delivery, the one place errs' vocabulary
// becomes ack or retry (errs.Retryable): nil and permanent errors are
// acked (a permanent one is logged, since retrying cannot fix it), any
// other error is returned so the message is redelivered.
func Classify(ctx context.Context, err error) error {
	if err == nil {
		return nil
	}
	log := logging.FromContext(ctx)
	kind := errs.KindOf(err)
	switch {
	case kind == errs.Busy:
		log.Info("another delivery is on it; will be retried", "error", err.Error(), "kind", kind.String())
		return err
	case !errs.Retryable(err):
		log.Error("permanent failure; message acked", "error", err.Error(), "kind", kind.String())
		return nil
	}
	log.Warn("transient failure; will be retried", "error", err.Error(), "kind", kind.String())
	return err
}

// MaxEventBytes bounds the data of an event a function accepts. The
// pipeline's messages are under 200 bytes (a push envelope, base64 and
// all, under 1 KiB) and a storage event a few KiB: anything larger is not
// ours.
const MaxEventBytes = 64 << 10

// CheckSize refuses an event whose data is larger than MaxEventBytes with
// a 413 and a message saying why. The Functions Framework has read the
// body by then (Cloud Run caps it at 32 MiB, Pub/Sub messages at 10 MB);
// the check keeps an oversized event from being decoded and processed.
// Pub/Sub treats the 413 as a failure, so such a message ends in the
// subscription's dead-letter topic, where it can be inspected.
func CheckSize(ctx context.Context, e cloudevents.Event) error {
	if n := len(e.Data()); n > MaxEventBytes {
		logging.FromContext(ctx).Error("event refused: too large", "bytes", n, "limit", MaxEventBytes)
		return cehttp.NewResult(http.StatusRequestEntityTooLarge,
			"event data is %d bytes, over the limit of %d bytes: not a promptml message", n, MaxEventBytes)
	}
	return nil
}
