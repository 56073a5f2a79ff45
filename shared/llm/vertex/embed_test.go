package vertex

import (
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/promptml/promptml/shared/llm"
)

// TestEmbedder: one :predict call of the embedding model in the instance's
// project and location, with the request's task type and dimensions; the
// reply's values and token count; a failure classified like a
// generation's, so the pipeline retries what may succeed later.
func TestEmbedder(t *testing.T) {
	hermetic(t)
	tests := []struct {
		name      string
		status    int
		body      string
		fails     bool
		kind      llm.Kind // of the error, when it fails
		wantValue []float32
	}{
		{"ok", http.StatusOK, `{"predictions": [{"embeddings": {"values": [0.5, 1], "statistics": {"token_count": 3}}}]}`, false, 0, []float32{0.5, 1}},
		{"unavailable", http.StatusServiceUnavailable, `{"error": {"code": 503, "message": "try later", "status": "UNAVAILABLE"}}`, true, llm.Transient, nil},
		{"bad request", http.StatusBadRequest, `{"error": {"code": 400, "message": "bad", "status": "INVALID_ARGUMENT"}}`, true, llm.Permanent, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := newFakeVertex(t, tt.status, tt.body)
			opts := testOptions(srv.Server)
			opts.Model = "text-embedding-005"
			e, err := NewEmbedder(t.Context(), opts)
			if err != nil {
				t.Fatal(err)
			}
			got, err := e.EmbedText(t.Context(), &llm.EmbedRequest{Text: "three short words", TaskType: "RETRIEVAL_QUERY", Dimensions: 2})
			reqs := srv.requests()
			if len(reqs) != 1 || !strings.HasSuffix(reqs[0].Path, "/projects/"+testProject+"/locations/"+testLocation+"/publishers/google/models/text-embedding-005:predict") {
				t.Fatalf("requests %+v, want one :predict call of text-embedding-005", reqs)
			}
			if tt.fails {
				var le *llm.Error
				if !errors.As(err, &le) || le.Kind != tt.kind {
					t.Fatalf("EmbedText error = %v, want an *llm.Error of kind %v", err, tt.kind)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got.Usage.InputTokens != 3 || len(got.Values) != len(tt.wantValue) || got.Values[1] != tt.wantValue[1] {
				t.Errorf("EmbedText = %+v, want values %v and 3 input tokens", got, tt.wantValue)
			}
			inst, _ := reqs[0].Body["instances"].([]any)
			if first, _ := firstMap(inst); first["content"] != "three short words" || first["task_type"] != "RETRIEVAL_QUERY" {
				t.Errorf("instances %v, want the text with task type RETRIEVAL_QUERY", inst)
			}
		})
	}
}

func firstMap(l []any) (map[string]any, bool) {
	if len(l) != 1 {
		return nil, false
	}
	m, ok := l[0].(map[string]any)
	return m, ok
}
