package ondatasetupload

import (
	"testing"

	cloudevents "github.com/cloudevents/sdk-go/v2"
	"github.com/google/go-cmp/cmp"

	"github.com/promptml/promptml/shared/errs"
	"github.com/promptml/promptml/shared/pipeline"
)

// event builds a storage finalize event whose data is the raw JSON data.
func event(t *testing.T, data string) cloudevents.Event {
	t.Helper()
	e := cloudevents.NewEvent()
	e.SetID("evt-1")
	e.SetSource("//storage.googleapis.com/projects/_/buckets/datasets")
	e.SetType("google.cloud.storage.object.v1.finalized")
	if err := e.SetData(cloudevents.ApplicationJSON, []byte(data)); err != nil {
		t.Fatal(err)
	}
	return e
}

func TestDecode(t *testing.T) {
	tests := []struct {
		name string
		data string
		want pipeline.Upload
		// wantErr: the event is rejected as permanent.
		wantErr bool
	}{
		{name: "good event", data: `{"bucket":"datasets","name":"a/b.csv","generation":"1712345678901234","size":"12","contentType":"text/csv"}`,
			want: pipeline.Upload{Bucket: "datasets", Object: "a/b.csv", Generation: 1712345678901234}},
		{name: "missing bucket", data: `{"name":"b.csv","generation":"1"}`, wantErr: true},
		{name: "empty bucket", data: `{"bucket":"","name":"b.csv","generation":"1"}`, wantErr: true},
		{name: "missing name", data: `{"bucket":"datasets","generation":"1"}`, wantErr: true},
		{name: "missing generation", data: `{"bucket":"datasets","name":"b.csv"}`, wantErr: true},
		{name: "non-numeric generation", data: `{"bucket":"datasets","name":"b.csv","generation":"abc"}`, wantErr: true},
		{name: "zero generation", data: `{"bucket":"datasets","name":"b.csv","generation":"0"}`, wantErr: true},
		{name: "negative generation", data: `{"bucket":"datasets","name":"b.csv","generation":"-5"}`, wantErr: true},
		{name: "generation as a JSON number", data: `{"bucket":"datasets","name":"b.csv","generation":17}`, wantErr: true},
		{name: "not JSON", data: `not json`, wantErr: true},
		{name: "JSON array", data: `[]`, wantErr: true},
		{name: "empty object", data: `{}`, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Decode(event(t, tt.data))
			if tt.wantErr {
				if err == nil {
					t.Fatalf("Decode = %+v, nil; want an error", got)
				}
				if !errs.Permanent(err) {
					t.Errorf("Decode error %v is not permanent: the event would be retried forever", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Decode (-want +got):\n%s", diff)
			}
		})
	}
}

func TestDecodeNoData(t *testing.T) {
	e := cloudevents.NewEvent()
	e.SetID("evt-2")
	e.SetSource("test")
	e.SetType("google.cloud.storage.object.v1.finalized")
	_, err := Decode(e)
	if err == nil || !errs.Permanent(err) {
		t.Errorf("Decode(no data) = %v, want a permanent error", err)
	}
}
