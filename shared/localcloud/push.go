package localcloud

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"cloud.google.com/go/pubsub/v2"
	"cloud.google.com/go/pubsub/v2/apiv1/pubsubpb"
)

// PushOptions configure Push.
type PushOptions struct {
	// Concurrency is the most deliveries in flight at once (0: 64). Cloud
	// Pub/Sub pushes to a function with as many concurrent requests as its
	// instances take; the emulator's own push loop sends one message at a
	// time, which serializes the fan-out of a phase's batches.
	Concurrency int
	// MinBackoff and MaxBackoff bound the wait before a rejected message is
	// handed back for redelivery, doubling per failed attempt (0: 1 s and
	// 10 s, the local cloud's retry policy).
	MinBackoff, MaxBackoff time.Duration
	// HTTP sends the deliveries (nil: a client without a timeout: a push
	// endpoint may take up to the ack deadline, which Receive extends).
	HTTP *http.Client
}

// PushEnvelope is the JSON body Pub/Sub push POSTs (the "wrapped" format),
// which the Functions Framework turns into a messagePublished CloudEvent.
type PushEnvelope struct {
	Message      PushMessage `json:"message"`
	Subscription string      `json:"subscription"`
}

// PushMessage is the message of a PushEnvelope, with both spellings of the
// id and publish time fields, as the service sends them.
type PushMessage struct {
	Data         []byte            `json:"data,omitempty"`
	Attributes   map[string]string `json:"attributes,omitempty"`
	MessageID    string            `json:"messageId"`
	MessageIDAlt string            `json:"message_id"`
	PublishTime  time.Time         `json:"publishTime"`
	PublishAlt   time.Time         `json:"publish_time"`
	OrderingKey  string            `json:"orderingKey,omitempty"`
	// DeliveryAttempt is set when the subscription has a dead-letter
	// policy.
	DeliveryAttempt *int `json:"deliveryAttempt,omitempty"`
}

// Push delivers the messages of a pull subscription to endpoint the way a
// push subscription would — the push envelope POSTed as JSON, a 2xx reply
// acks, anything else is redelivered after a backoff (and, with the
// subscription's dead-letter policy, dead-lettered after its attempts) —
// but with up to opts.Concurrency deliveries in flight, as the service
// does. It blocks until ctx is done and then returns nil.
func Push(ctx context.Context, client *pubsub.Client, project, subscription, endpoint string, opts PushOptions) error {
	name := subscriptionName(project, subscription)
	if _, err := client.SubscriptionAdminClient.GetSubscription(ctx, &pubsubpb.GetSubscriptionRequest{Subscription: name}); err != nil {
		return fmt.Errorf("localcloud.Push: GetSubscription(%s): %w", name, err)
	}
	if opts.Concurrency <= 0 {
		opts.Concurrency = 64
	}
	if opts.MinBackoff <= 0 {
		opts.MinBackoff = time.Second
	}
	if opts.MaxBackoff < opts.MinBackoff {
		opts.MaxBackoff = max(opts.MinBackoff, 10*time.Second)
	}
	if opts.HTTP == nil {
		opts.HTTP = &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: opts.Concurrency}}
	}
	p := &pusher{name: name, endpoint: endpoint, opts: opts, failures: map[string]int{}}
	sub := client.Subscriber(name)
	sub.ReceiveSettings.MaxOutstandingMessages = opts.Concurrency
	sub.ReceiveSettings.NumGoroutines = 1
	slog.Info("localcloud: pushing a pull subscription", "subscription", name, "endpoint", endpoint, "concurrency", opts.Concurrency)
	if err := sub.Receive(ctx, p.handle); err != nil && ctx.Err() == nil {
		return fmt.Errorf("localcloud.Push: Receive(%s): %w", name, err)
	}
	return nil
}

type pusher struct {
	name, endpoint string
	opts           PushOptions

	mu       sync.Mutex
	failures map[string]int // message id -> failed deliveries, for backoff
}

func (p *pusher) handle(ctx context.Context, msg *pubsub.Message) {
	err := p.post(ctx, msg)
	if err == nil {
		p.mu.Lock()
		delete(p.failures, msg.ID)
		p.mu.Unlock()
		msg.Ack()
		return
	}
	p.mu.Lock()
	p.failures[msg.ID]++
	n := p.failures[msg.ID]
	p.mu.Unlock()
	delay := min(p.opts.MinBackoff<<min(n-1, 16), p.opts.MaxBackoff)
	slog.Warn("localcloud: push not acknowledged; will redeliver", "subscription", p.name, "message_id", msg.ID,
		"attempt", n, "retry_in", delay, "err", err)
	select {
	case <-time.After(delay):
	case <-ctx.Done():
	}
	msg.Nack()
}

// post sends msg in a push envelope.
func (p *pusher) post(ctx context.Context, msg *pubsub.Message) error {
	env := PushEnvelope{Subscription: p.name, Message: PushMessage{
		Data: msg.Data, Attributes: msg.Attributes, MessageID: msg.ID, MessageIDAlt: msg.ID,
		PublishTime: msg.PublishTime.UTC(), PublishAlt: msg.PublishTime.UTC(), OrderingKey: msg.OrderingKey,
		DeliveryAttempt: msg.DeliveryAttempt,
	}}
	body, err := json.Marshal(env)
	if err != nil {
		return fmt.Errorf("encode push envelope: %w", err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, p.endpoint, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("new request: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := p.opts.HTTP.Do(req)
	if err != nil {
		return fmt.Errorf("POST %s: %w", p.endpoint, err)
	}
	defer resp.Body.Close()
	rb, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<10))
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return fmt.Errorf("POST %s: %s: %s", p.endpoint, resp.Status, strings.TrimSpace(string(rb)))
	}
	return nil
}
