package localcloud

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"cloud.google.com/go/pubsub/v2"
	"github.com/google/go-cmp/cmp"
)

// slowEndpoint holds every delivery for hold and records how many were in
// flight at once.
type slowEndpoint struct {
	hold time.Duration

	mu            sync.Mutex
	inFlight, max int
	got           map[string]bool
}

func (s *slowEndpoint) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var b pushBody
	if err := json.NewDecoder(r.Body).Decode(&b); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	s.mu.Lock()
	s.inFlight++
	s.max = max(s.max, s.inFlight)
	s.mu.Unlock()
	time.Sleep(s.hold)
	s.mu.Lock()
	s.inFlight--
	s.got[string(b.Message.Data)] = true
	s.mu.Unlock()
	w.WriteHeader(http.StatusNoContent)
}

func (s *slowEndpoint) stats() (maxInFlight, delivered int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.max, len(s.got)
}

// TestPushConcurrency: Push delivers a backlog with up to Concurrency
// requests in flight (the emulator's own push loop sends one at a time),
// and never more.
func TestPushConcurrency(t *testing.T) {
	RequireEmulators(t)
	t.Parallel()
	tests := []struct {
		name        string
		concurrency int
		messages    int
	}{
		{"eight at a time", 8, 40},
		{"one at a time", 1, 5},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ctx := t.Context()
			project := ProjectID(t)
			client := pubsubClient(t, project)
			if err := SetupPubSub(ctx, client, project, []Route{{Topic: "work", Subscription: "work-push", AckDeadline: 60 * time.Second}}); err != nil {
				t.Fatal(err)
			}
			ep := &slowEndpoint{hold: 300 * time.Millisecond, got: map[string]bool{}}
			srv := httptest.NewServer(ep)
			defer srv.Close()
			pctx, cancel := context.WithCancel(ctx)
			done := make(chan error, 1)
			go func() {
				done <- Push(pctx, client, project, "work-push", srv.URL, PushOptions{Concurrency: tt.concurrency})
			}()
			pub := client.Publisher("work")
			defer pub.Stop()
			var results []*pubsub.PublishResult
			for i := range tt.messages {
				results = append(results, pub.Publish(ctx, &pubsub.Message{Data: fmt.Appendf(nil, "m%d", i)}))
			}
			for _, r := range results {
				if _, err := r.Get(ctx); err != nil {
					t.Fatal(err)
				}
			}
			if !waitFor(30*time.Second, func() bool { _, n := ep.stats(); return n == tt.messages }) {
				_, n := ep.stats()
				t.Fatalf("%d of %d messages delivered", n, tt.messages)
			}
			cancel()
			if err := <-done; err != nil {
				t.Errorf("Push: %v", err)
			}
			if m, _ := ep.stats(); m > tt.concurrency || (tt.concurrency > 1 && m < 2) {
				t.Errorf("max deliveries in flight = %d, want at most %d and more than one", m, tt.concurrency)
			}
		})
	}
}

// TestPushRedeliversAndDeadLetters: a rejected delivery is retried with the
// push envelope intact, and the subscription's dead-letter policy ends it.
func TestPushRedeliversAndDeadLetters(t *testing.T) {
	RequireEmulators(t)
	t.Parallel()
	ctx := t.Context()
	project := ProjectID(t)
	client := pubsubClient(t, project)
	if err := SetupPubSub(ctx, client, project, []Route{
		{Topic: "work", Subscription: "work-push", MaxDeliveryAttempts: 5, DeadLetterTopic: "work-dead"},
		{Topic: "work-dead", Subscription: "work-dead-pull"},
	}); err != nil {
		t.Fatal(err)
	}
	failing := &pushRecorder{t: t, fail: 1 << 30}
	srv := httptest.NewServer(failing)
	defer srv.Close()
	pctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		_ = Push(pctx, client, project, "work-push", srv.URL, PushOptions{Concurrency: 4, MinBackoff: 10 * time.Millisecond, MaxBackoff: 50 * time.Millisecond})
	}()
	id, err := client.Publisher("work").Publish(ctx, &pubsub.Message{Data: []byte("poison"), Attributes: map[string]string{"k": "v"}}).Get(ctx)
	if err != nil {
		t.Fatal(err)
	}
	rctx, rcancel := context.WithTimeout(ctx, 30*time.Second)
	defer rcancel()
	var dead *pubsub.Message
	err = client.Subscriber("work-dead-pull").Receive(rctx, func(_ context.Context, m *pubsub.Message) {
		m.Ack()
		dead = m
		rcancel()
	})
	if err != nil || dead == nil {
		t.Fatalf("no dead-lettered message (Receive: %v, %d push attempts)", err, len(failing.deliveries()))
	}
	if string(dead.Data) != "poison" {
		t.Errorf("dead letter %q, want poison", dead.Data)
	}
	got := failing.deliveries()
	if len(got) != 5 {
		t.Errorf("%d push attempts, want 5 (the dead-letter policy's)", len(got))
	}
	for i, d := range got {
		want := pushBody{Subscription: "projects/" + project + "/subscriptions/work-push"}
		want.Message.Data, want.Message.Attributes, want.Message.MessageID, want.Message.PublishTime = []byte("poison"), map[string]string{"k": "v"}, id, d.Message.PublishTime
		if diff := cmp.Diff(want, d); diff != "" || d.Message.PublishTime.IsZero() {
			t.Errorf("attempt %d envelope mismatch (-want +got):\n%s", i+1, diff)
		}
	}
}

// TestPushNeedsSubscription: a missing subscription is an error at once.
func TestPushNeedsSubscription(t *testing.T) {
	RequireEmulators(t)
	t.Parallel()
	project := ProjectID(t)
	client := pubsubClient(t, project)
	if err := Push(t.Context(), client, project, "nope", "http://127.0.0.1:1", PushOptions{}); err == nil {
		t.Error("Push on a missing subscription: no error")
	}
}
