package queue

import (
	"encoding/json"
	"errors"
	"testing"

	cloudevents "github.com/cloudevents/sdk-go/v2"
	"github.com/google/go-cmp/cmp"
)

func event(t *testing.T, payload string) cloudevents.Event {
	t.Helper()
	e := cloudevents.NewEvent()
	e.SetID("1")
	e.SetType("google.cloud.pubsub.topic.v1.messagePublished")
	e.SetSource("//pubsub.googleapis.com/projects/p/topics/t")
	body, _ := json.Marshal(map[string]any{
		"message":      map[string]any{"data": []byte(payload), "messageId": "42"},
		"subscription": "projects/p/subscriptions/s",
	})
	if err := e.SetData(cloudevents.ApplicationJSON, body); err != nil {
		t.Fatal(err)
	}
	return e
}

func TestDecodeBatch(t *testing.T) {
	tests := []struct {
		name    string
		payload string
		want    BatchMessage
		wantErr bool
	}{
		{"ok", `{"v":1,"run_id":"r","phase_id":"val-p1","batch":7}`, BatchMessage{1, "r", "val-p1", 7}, false},
		{"batch zero", `{"v":1,"run_id":"r","phase_id":"p","batch":0}`, BatchMessage{1, "r", "p", 0}, false},
		{"wrong version", `{"v":2,"run_id":"r","phase_id":"p","batch":1}`, BatchMessage{}, true},
		{"missing run", `{"v":1,"phase_id":"p","batch":1}`, BatchMessage{}, true},
		{"negative batch", `{"v":1,"run_id":"r","phase_id":"p","batch":-1}`, BatchMessage{}, true},
		{"not json", `hello`, BatchMessage{}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := DecodeBatch(event(t, tt.payload))
			if tt.wantErr {
				if !errors.Is(err, ErrBadMessage) {
					t.Fatalf("err = %v, want ErrBadMessage", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if d := cmp.Diff(tt.want, got); d != "" {
				t.Errorf("(-want +got):\n%s", d)
			}
		})
	}
}

func TestDecodePhaseDone(t *testing.T) {
	got, err := DecodePhaseDone(event(t, `{"v":1,"run_id":"r","phase_id":"train-p"}`))
	if err != nil {
		t.Fatal(err)
	}
	if want := (PhaseDoneMessage{1, "r", "train-p"}); got != want {
		t.Errorf("got %+v, want %+v", got, want)
	}
	e := cloudevents.NewEvent()
	_ = e.SetData(cloudevents.ApplicationJSON, []byte(`[1,2]`))
	if _, err := DecodePhaseDone(e); !errors.Is(err, ErrBadMessage) {
		t.Errorf("non-Pub/Sub data: err = %v, want ErrBadMessage", err)
	}
}
