package ondatasetupload

import (
	"strings"
	"testing"
	"unicode/utf8"

	cloudevents "github.com/cloudevents/sdk-go/v2"

	"github.com/promptml/promptml/shared/errs"
)

// FuzzDecode feeds arbitrary data to the storage event decoder: it either
// returns an upload with a bucket, a valid object name and a positive
// generation, or a permanent error (the event is acked, never retried);
// it never panics.
func FuzzDecode(f *testing.F) {
	for _, s := range []string{
		`{"bucket":"datasets","name":"a/b.csv","generation":"1712345678901234","size":"12","contentType":"text/csv"}`,
		`{"bucket":"datasets","name":"../../etc/passwd.csv","generation":"1"}`,
		`{"bucket":"datasets","name":"a\u0000.csv","generation":"1"}`,
		`{"bucket":"datasets","name":"b.csv","generation":"99999999999999999999"}`,
		`{"bucket":"datasets","name":"b.csv","generation":17}`,
		`{"bucket":1}`,
		`not json`,
		`[]`,
		`null`,
		``,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		e := cloudevents.NewEvent()
		e.SetID("evt-1")
		e.SetSource("//storage.googleapis.com/projects/_/buckets/datasets")
		e.SetType("google.cloud.storage.object.v1.finalized")
		e.DataEncoded = data
		u, err := Decode(e)
		if err != nil {
			if !errs.Permanent(err) {
				t.Fatalf("Decode error %v is not permanent", err)
			}
			return
		}
		if u.Bucket == "" || u.Object == "" || u.Generation <= 0 || !utf8.ValidString(u.Object) || strings.ContainsAny(u.Object, "\x00\r\n") {
			t.Fatalf("Decode accepted %+v", u)
		}
	})
}
