package runbatch_test

import (
	"context"
	"encoding/base64"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	cloudevents "github.com/cloudevents/sdk-go/v2"

	"github.com/promptml/promptml/functions/aggregate"
	"github.com/promptml/promptml/functions/internal/handler"
	"github.com/promptml/promptml/functions/ondatasetupload"
	"github.com/promptml/promptml/functions/runbatch"
)

// TestPushBodyLimit posts events to each event function the way the
// Functions Framework serves them (the CloudEvents HTTP receive handler):
// data over handler.MaxEventBytes gets a 413 that says why, before the
// function looks at its configuration or decodes anything.
func TestPushBodyLimit(t *testing.T) {
	t.Setenv("PROMPTML_PROJECT", "") // no instance: an event that got past the check would fail with 500
	fns := map[string]func(context.Context, cloudevents.Event) error{
		"RunBatch":        runbatch.Handle,
		"Aggregate":       aggregate.Handle,
		"OnDatasetUpload": ondatasetupload.Handle,
	}
	for name, fn := range fns {
		p, err := cloudevents.NewHTTP()
		if err != nil {
			t.Fatal(err)
		}
		h, err := cloudevents.NewHTTPReceiveHandler(t.Context(), p, fn)
		if err != nil {
			t.Fatal(err)
		}
		srv := httptest.NewServer(h)
		t.Cleanup(srv.Close)
		tests := []struct {
			name     string
			bytes    int
			wantCode int
		}{
			{"over the limit", handler.MaxEventBytes + 1, http.StatusRequestEntityTooLarge},
			{"10 MB", 10 << 20, http.StatusRequestEntityTooLarge},
			// At the limit the event is decoded; the test instance has no
			// configuration, so it fails there (500), not with 413.
			{"at the limit", handler.MaxEventBytes, http.StatusInternalServerError},
		}
		for _, tt := range tests {
			t.Run(name+"/"+tt.name, func(t *testing.T) {
				payload := base64.StdEncoding.EncodeToString([]byte(strings.Repeat("x", tt.bytes)))
				body := fmt.Sprintf(`{"message":{"data":%q,"messageId":"1"},"pad":"`, payload)
				body += strings.Repeat("y", max(0, tt.bytes-len(body)-2)) + `"}`
				body = body[:min(len(body), tt.bytes)]
				if len(body) < tt.bytes {
					body += strings.Repeat(" ", tt.bytes-len(body))
				}
				req, _ := http.NewRequest(http.MethodPost, srv.URL, strings.NewReader(body))
				req.Header.Set("ce-specversion", "1.0")
				req.Header.Set("ce-id", "1")
				req.Header.Set("ce-source", "//pubsub.googleapis.com/projects/p/topics/t")
				req.Header.Set("ce-type", "google.cloud.pubsub.topic.v1.messagePublished")
				req.Header.Set("Content-Type", "application/json")
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				defer resp.Body.Close()
				buf := make([]byte, 512)
				n, _ := resp.Body.Read(buf)
				if resp.StatusCode != tt.wantCode {
					t.Fatalf("status %d (%s), want %d", resp.StatusCode, buf[:n], tt.wantCode)
				}
				if tt.wantCode == http.StatusRequestEntityTooLarge && !strings.Contains(string(buf[:n]), "over the limit") {
					t.Errorf("413 body %q does not say why", buf[:n])
				}
			})
		}
	}
}
