// Package queue defines the pipeline's Pub/Sub messages (JSON, versioned),
// publishes them, and decodes them from the CloudEvents the push
// subscriptions deliver.
package queue

import (
	"context"
	"encoding/json"
	"fmt"

	"cloud.google.com/go/pubsub/v2"
	cloudevents "github.com/cloudevents/sdk-go/v2"

	"github.com/promptml/promptml/shared/errs"
)

// Version is the message schema version this code writes and reads.
const Version = 1

// Default topic names (DESIGN.md).
const (
	BatchesTopic   = "promptml-batches"
	PhaseDoneTopic = "promptml-phase-done"
)

// BatchMessage asks RunBatch to score one batch of one phase.
type BatchMessage struct {
	V       int    `json:"v"`
	RunID   string `json:"run_id"`
	PhaseID string `json:"phase_id"`
	Batch   int    `json:"batch"`
}

// PhaseDoneMessage tells Aggregate that every batch of a phase is done.
type PhaseDoneMessage struct {
	V       int    `json:"v"`
	RunID   string `json:"run_id"`
	PhaseID string `json:"phase_id"`
}

// ErrBadMessage marks a message that can never be processed (wrong version,
// not JSON, missing fields). Handlers ack it instead of retrying forever.
var ErrBadMessage = errs.New(errs.InvalidArgument, "bad message")

// pushData is the data of a google.cloud.pubsub.topic.v1.messagePublished
// CloudEvent.
type pushData struct {
	Message struct {
		Data       []byte            `json:"data"`
		Attributes map[string]string `json:"attributes"`
		ID         string            `json:"messageId"`
	} `json:"message"`
	Subscription string `json:"subscription"`
}

// Payload extracts the Pub/Sub message data from a messagePublished event.
func Payload(e cloudevents.Event) ([]byte, error) {
	var d pushData
	if err := json.Unmarshal(e.Data(), &d); err != nil {
		return nil, fmt.Errorf("%w: event data is not a Pub/Sub message: %v", ErrBadMessage, err)
	}
	return d.Message.Data, nil
}

// DecodeBatch decodes a BatchMessage from a messagePublished event.
func DecodeBatch(e cloudevents.Event) (BatchMessage, error) {
	var m BatchMessage
	if err := decode(e, &m); err != nil {
		return m, err
	}
	if err := check(m.V, m.RunID, m.PhaseID); err != nil {
		return m, err
	}
	if m.Batch < 0 {
		return m, fmt.Errorf("%w: negative batch %d", ErrBadMessage, m.Batch)
	}
	return m, nil
}

// DecodePhaseDone decodes a PhaseDoneMessage from a messagePublished event.
func DecodePhaseDone(e cloudevents.Event) (PhaseDoneMessage, error) {
	var m PhaseDoneMessage
	if err := decode(e, &m); err != nil {
		return m, err
	}
	return m, check(m.V, m.RunID, m.PhaseID)
}

func decode(e cloudevents.Event, v any) error {
	b, err := Payload(e)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("%w: %v", ErrBadMessage, err)
	}
	return nil
}

func check(v int, run, phase string) error {
	switch {
	case v != Version:
		return fmt.Errorf("%w: version %d, this code reads %d", ErrBadMessage, v, Version)
	case run == "" || phase == "":
		return fmt.Errorf("%w: run_id and phase_id are required", ErrBadMessage)
	case !ValidID(run):
		return fmt.Errorf("%w: run_id %q is not an id", ErrBadMessage, clip(run))
	case !ValidID(phase):
		return fmt.Errorf("%w: phase_id %q is not an id", ErrBadMessage, clip(phase))
	}
	return nil
}

// maxIDLen bounds the ids a message may carry; real ones are under 40
// bytes.
const maxIDLen = 128

// ValidID reports whether s can be a run or phase id: 1 to 128 bytes of
// ASCII letters, digits, '-', '_' and '.', and not "." or "..". The ids
// become Firestore document ids and object name segments
// (runs/{run}/results/{phase}/...), so a '/' or a ".." in a message
// would address another run's documents or objects.
func ValidID(s string) bool {
	if s == "" || len(s) > maxIDLen || s == "." || s == ".." {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '-', c == '_', c == '.':
		default:
			return false
		}
	}
	return true
}

// clip shortens an id quoted in an error message.
func clip(s string) string {
	if len(s) > 64 {
		return s[:64] + "…"
	}
	return s
}

// Publisher publishes the pipeline's messages.
type Publisher struct {
	batches   *pubsub.Publisher
	phaseDone *pubsub.Publisher
}

// NewPublisher returns a Publisher on the two topics of client's project.
func NewPublisher(client *pubsub.Client, batchesTopic, phaseDoneTopic string) *Publisher {
	return &Publisher{batches: client.Publisher(batchesTopic), phaseDone: client.Publisher(phaseDoneTopic)}
}

// PublishBatches publishes every message and waits until all are accepted.
func (p *Publisher) PublishBatches(ctx context.Context, msgs []BatchMessage) error {
	results := make([]*pubsub.PublishResult, 0, len(msgs))
	for _, m := range msgs {
		m.V = Version
		b, err := json.Marshal(m)
		if err != nil {
			return fmt.Errorf("queue.PublishBatches: %w", err)
		}
		results = append(results, p.batches.Publish(ctx, &pubsub.Message{Data: b}))
	}
	for _, r := range results {
		if _, err := r.Get(ctx); err != nil {
			return fmt.Errorf("queue.PublishBatches: %w", err)
		}
	}
	return nil
}

// PublishPhaseDone publishes m and waits until it is accepted.
func (p *Publisher) PublishPhaseDone(ctx context.Context, m PhaseDoneMessage) error {
	m.V = Version
	b, err := json.Marshal(m)
	if err != nil {
		return fmt.Errorf("queue.PublishPhaseDone: %w", err)
	}
	if _, err := p.phaseDone.Publish(ctx, &pubsub.Message{Data: b}).Get(ctx); err != nil {
		return fmt.Errorf("queue.PublishPhaseDone: %w", err)
	}
	return nil
}

// Stop flushes and stops the publishers.
func (p *Publisher) Stop() {
	p.batches.Stop()
	p.phaseDone.Stop()
}
