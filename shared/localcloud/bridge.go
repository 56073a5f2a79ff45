package localcloud

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"cloud.google.com/go/pubsub/v2"
	"cloud.google.com/go/pubsub/v2/apiv1/pubsubpb"
	cloudevents "github.com/cloudevents/sdk-go/v2"
	"github.com/cloudevents/sdk-go/v2/binding"
	cehttp "github.com/cloudevents/sdk-go/v2/protocol/http"
)

// StorageFinalizedType is the CloudEvent type Eventarc gives a Cloud Storage
// object finalize event.
const StorageFinalizedType = "google.cloud.storage.object.v1.finalized"

// Redelivery backoff of a failed upload event. Eventarc waits 10 s and more
// between attempts; locally a quicker first retry keeps the loop snappy
// while a target that is down is not hammered.
const (
	bridgeMinBackoff = 200 * time.Millisecond
	bridgeMaxBackoff = 10 * time.Second
)

// BridgeUploads stands in for Eventarc: it pulls fake-gcs-server's
// OBJECT_FINALIZE notifications from subscription (a pull subscription on
// StorageOptions.NotifyTopic) and POSTs each finalized *.csv object to target
// as a google.cloud.storage.object.v1.finalized CloudEvent in binary content
// mode, as Eventarc delivers it to a 2nd gen function. A 2xx reply acks the
// notification; anything else nacks it after a backoff, so it is redelivered
// (at-least-once, like Eventarc). Other objects are acked and skipped, as the
// `*.csv` trigger filter would.
//
// The subscription must exist before the first upload, or that upload's
// notification is lost: create it with SetupPubSub (a Route with no
// PushEndpoint) before uploading. BridgeUploads blocks until ctx is done and
// then returns nil.
func BridgeUploads(ctx context.Context, client *pubsub.Client, project, subscription, target string) error {
	name := subscriptionName(project, subscription)
	if _, err := client.SubscriptionAdminClient.GetSubscription(ctx, &pubsubpb.GetSubscriptionRequest{Subscription: name}); err != nil {
		return fmt.Errorf("bridge uploads: GetSubscription(%s) (create it with SetupPubSub before uploading): %w", name, err)
	}
	b := &bridge{target: target, http: &http.Client{}, failures: map[string]int{}}
	sub := client.Subscriber(name)
	slog.Info("localcloud: bridging storage uploads", "subscription", name, "target", target)
	if err := sub.Receive(ctx, b.handle); err != nil && ctx.Err() == nil {
		return fmt.Errorf("bridge uploads: Receive(%s): %w", name, err)
	}
	return nil
}

type bridge struct {
	target string
	http   *http.Client

	mu       sync.Mutex
	failures map[string]int // message id -> failed deliveries, for backoff
}

func (b *bridge) handle(ctx context.Context, msg *pubsub.Message) {
	log := slog.With("message_id", msg.ID, "bucket", msg.Attributes["bucketId"], "object", msg.Attributes["objectId"])
	ev, err := storageEvent(msg)
	if errors.Is(err, errSkip) {
		log.Debug("localcloud: upload event skipped", "reason", err)
		msg.Ack()
		return
	}
	if err != nil {
		// A malformed notification will not get better by redelivery.
		log.Error("localcloud: dropping malformed storage notification", "err", err)
		msg.Ack()
		return
	}
	if err := b.post(ctx, ev); err != nil {
		b.mu.Lock()
		b.failures[msg.ID]++
		n := b.failures[msg.ID]
		b.mu.Unlock()
		delay := min(bridgeMinBackoff<<min(n-1, 16), bridgeMaxBackoff)
		log.Warn("localcloud: upload event not accepted; will redeliver", "target", b.target, "attempt", n, "retry_in", delay, "err", err)
		select {
		case <-time.After(delay):
		case <-ctx.Done():
		}
		msg.Nack()
		return
	}
	b.mu.Lock()
	delete(b.failures, msg.ID)
	b.mu.Unlock()
	log.Info("localcloud: upload event delivered", "target", b.target, "generation", msg.Attributes["objectGeneration"])
	msg.Ack()
}

// post sends ev in CloudEvents binary content mode (ce-* headers, the data
// as the body), the mode Eventarc uses.
func (b *bridge) post(ctx context.Context, ev cloudevents.Event) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, b.target, nil)
	if err != nil {
		return fmt.Errorf("new request: %w", err)
	}
	if err := cehttp.WriteRequest(ctx, binding.ToMessage(&ev), req); err != nil {
		return fmt.Errorf("cehttp.WriteRequest: %w", err)
	}
	resp, err := b.http.Do(req)
	if err != nil {
		return fmt.Errorf("POST %s: %w", b.target, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<10))
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return fmt.Errorf("POST %s: %s: %s", b.target, resp.Status, strings.TrimSpace(string(body)))
	}
	return nil
}

// errSkip marks notifications that Eventarc's trigger would not deliver.
var errSkip = errors.New("not a finalized *.csv object")

// storageEvent converts a JSON_API_V1 Cloud Storage notification into the
// CloudEvent Eventarc delivers for it.
func storageEvent(msg *pubsub.Message) (cloudevents.Event, error) {
	attrs := msg.Attributes
	if t := attrs["eventType"]; t != "OBJECT_FINALIZE" {
		return cloudevents.Event{}, fmt.Errorf("%w: eventType %q", errSkip, t)
	}
	// The payload is the object resource, every number string-quoted, which
	// is also what Eventarc's StorageObjectData is. Keep every field it has.
	var data map[string]any
	if err := json.Unmarshal(msg.Data, &data); err != nil {
		return cloudevents.Event{}, fmt.Errorf("decode notification payload: %w", err)
	}
	bucket, _ := data["bucket"].(string)
	name, _ := data["name"].(string)
	bucket = firstNonEmpty(bucket, attrs["bucketId"])
	name = firstNonEmpty(name, attrs["objectId"])
	if bucket == "" || name == "" {
		return cloudevents.Event{}, errors.New("notification names no bucket or object")
	}
	if !strings.HasSuffix(name, ".csv") {
		return cloudevents.Event{}, fmt.Errorf("%w: %s", errSkip, name)
	}
	data["bucket"], data["name"] = bucket, name
	if _, ok := data["generation"]; !ok && attrs["objectGeneration"] != "" {
		data["generation"] = attrs["objectGeneration"]
	}
	if _, ok := data["metageneration"]; !ok {
		// fake-gcs-server omits it; a freshly finalized generation always
		// has metageneration 1.
		data["metageneration"] = "1"
	}
	body, err := json.Marshal(data)
	if err != nil {
		return cloudevents.Event{}, fmt.Errorf("encode event data: %w", err)
	}

	when := msg.PublishTime
	if t, err := time.Parse(time.RFC3339Nano, attrs["eventTime"]); err == nil {
		when = t
	}
	ev := cloudevents.NewEvent(cloudevents.VersionV1)
	ev.SetID(msg.ID)
	ev.SetType(StorageFinalizedType)
	ev.SetSource("//storage.googleapis.com/projects/_/buckets/" + bucket)
	ev.SetSubject("objects/" + name)
	ev.SetTime(when.UTC())
	if err := ev.SetData(cloudevents.ApplicationJSON, body); err != nil {
		return cloudevents.Event{}, fmt.Errorf("set event data: %w", err)
	}
	if err := ev.Validate(); err != nil {
		return cloudevents.Event{}, fmt.Errorf("validate event: %w", err)
	}
	return ev, nil
}
