package queue

import (
	"encoding/json"
	"errors"
	"testing"

	cloudevents "github.com/cloudevents/sdk-go/v2"
)

// FuzzDecode feeds arbitrary push deliveries to the message decoders: raw
// event data (the Pub/Sub push envelope) when wrap is false, or a message
// payload inside a well-formed envelope when it is true. A delivery is
// either decoded into a message whose fields are safe to use as document
// ids and object name segments, or refused with ErrBadMessage, which the
// handlers ack instead of retrying forever; it never panics.
func FuzzDecode(f *testing.F) {
	for _, s := range []string{
		`{"v":1,"run_id":"r","phase_id":"val-p1","batch":7}`,
		`{"v":1,"run_id":"abcdefghijklmnopqrstuvwxyz","phase_id":"train-p0123456789ab"}`,
		`{"v":2,"run_id":"r","phase_id":"p","batch":1}`,
		`{"v":1,"run_id":"../other","phase_id":"p","batch":1}`,
		`{"v":1,"run_id":"r/phases/x","phase_id":"p"}`,
		`{"v":1,"run_id":"r","phase_id":"p","batch":-1}`,
		`{"v":1,"run_id":"r","phase_id":"p","batch":1e30}`,
		`{"v":"1"}`,
		`null`,
		`[]`,
		``,
	} {
		f.Add([]byte(s), true)
	}
	for _, s := range []string{
		`{"message":{"data":"eyJ2IjoxLCJydW5faWQiOiJyIiwicGhhc2VfaWQiOiJwIn0=","messageId":"1"},"subscription":"s"}`,
		`{"message":{"data":"not base64!"}}`,
		`{"message":null}`,
		`{"message":{"data":null}}`,
		`"just a string"`,
		`{`,
	} {
		f.Add([]byte(s), false)
	}
	f.Fuzz(func(t *testing.T, data []byte, wrap bool) {
		if wrap {
			env, err := json.Marshal(map[string]any{"message": map[string]any{"data": data, "messageId": "1"}})
			if err != nil {
				t.Fatal(err)
			}
			data = env
		}
		e := cloudevents.NewEvent()
		e.SetID("1")
		e.SetType("google.cloud.pubsub.topic.v1.messagePublished")
		e.SetSource("//pubsub.googleapis.com/projects/p/topics/t")
		e.DataEncoded = data

		b, err := DecodeBatch(e)
		if err != nil {
			if !errors.Is(err, ErrBadMessage) {
				t.Fatalf("DecodeBatch error %v is not ErrBadMessage", err)
			}
		} else if b.V != Version || !ValidID(b.RunID) || !ValidID(b.PhaseID) || b.Batch < 0 {
			t.Fatalf("DecodeBatch accepted %+v", b)
		}
		p, err := DecodePhaseDone(e)
		if err != nil {
			if !errors.Is(err, ErrBadMessage) {
				t.Fatalf("DecodePhaseDone error %v is not ErrBadMessage", err)
			}
		} else if p.V != Version || !ValidID(p.RunID) || !ValidID(p.PhaseID) {
			t.Fatalf("DecodePhaseDone accepted %+v", p)
		}
	})
}
