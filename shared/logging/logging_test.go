package logging

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestNewCloudLoggingKeys(t *testing.T) {
	tests := []struct {
		name string
		log  func(ctx *bytes.Buffer)
		want map[string]any
	}{
		{"info", func(b *bytes.Buffer) { New(b, "info").Info("hello", "run_id", "r1") },
			map[string]any{"severity": "INFO", "message": "hello", "run_id": "r1"}},
		{"warning", func(b *bytes.Buffer) { New(b, "").Warn("careful") },
			map[string]any{"severity": "WARNING", "message": "careful"}},
		{"context", func(b *bytes.Buffer) {
			ctx := WithLogger(t.Context(), New(b, "debug"))
			ctx = With(ctx, "phase_id", "p")
			FromContext(ctx).Debug("dbg")
		}, map[string]any{"severity": "DEBUG", "message": "dbg", "phase_id": "p"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var b bytes.Buffer
			tt.log(&b)
			var got map[string]any
			if err := json.Unmarshal(b.Bytes(), &got); err != nil {
				t.Fatalf("not JSON: %q: %v", b.String(), err)
			}
			delete(got, "time")
			if d := cmp.Diff(tt.want, got); d != "" {
				t.Errorf("record (-want +got):\n%s", d)
			}
		})
	}
}

func TestLevelFilters(t *testing.T) {
	var b bytes.Buffer
	New(&b, "error").Info("dropped")
	if b.Len() != 0 {
		t.Errorf("info logged at error level: %q", b.String())
	}
}
