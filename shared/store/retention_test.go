package store

import (
	"testing"
	"time"
)

// With a retention, every event and upload record carries expire_at =
// written + retention, the field the deployment's TTL policies act on; runs
// carry none. Without one (the default) nothing expires.
func TestRetentionWritesExpireAt(t *testing.T) {
	ctx := t.Context()
	for _, retention := range []time.Duration{0, 90 * 24 * time.Hour} {
		s := newStore(t).WithRetention(retention)
		clk := withClock(s)
		runID := "ttl-" + retention.String()
		key := UploadKey("b", "ttl/"+retention.String()+".csv", 1)
		if _, _, err := s.CreateRunForUpload(ctx, key, &Run{ID: runID, Status: StatusRunning}); err != nil {
			t.Fatal(err)
		}
		if err := s.AddEvent(ctx, runID, "e1", Event{Kind: "start", Message: "m"}); err != nil {
			t.Fatal(err)
		}
		want := clk.now().Add(retention)
		for _, doc := range []struct {
			what string
			path string
		}{{"upload", "uploads/" + key}, {"event", "runs/" + runID + "/events"}} {
			var data map[string]any
			if doc.what == "upload" {
				snap, err := s.fs.Doc(doc.path).Get(ctx)
				if err != nil {
					t.Fatal(err)
				}
				data = snap.Data()
			} else {
				snaps, err := s.fs.Collection(doc.path).Documents(ctx).GetAll()
				if err != nil || len(snaps) != 1 {
					t.Fatalf("events: %d, %v", len(snaps), err)
				}
				data = snaps[0].Data()
			}
			got, ok := data[ExpireAtField].(time.Time)
			switch {
			case retention == 0 && ok:
				t.Errorf("%s without retention has %s = %v", doc.what, ExpireAtField, got)
			case retention > 0 && (!ok || !got.Equal(want)):
				t.Errorf("%s: %s = %v (%v), want %v", doc.what, ExpireAtField, data[ExpireAtField], ok, want)
			}
		}
		snap, err := s.fs.Doc("runs/" + runID).Get(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := snap.Data()[ExpireAtField]; ok {
			t.Errorf("the run document has %s: runs must never expire", ExpireAtField)
		}
	}
}
