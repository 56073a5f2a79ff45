package llm

import (
	"context"
	"errors"
	"testing"
)

func TestModelUnavailable(t *testing.T) {
	for _, tt := range []struct {
		name string
		err  error
		want bool
	}{
		{"vertex 404", StatusError(404, 0, errors.New("Publisher Model `gemini-2.5-flash` was not found or your project does not have access to it")), true},
		{"410 gone", StatusError(410, 0, errors.New("gone")), true},
		{"400 saying retired", StatusError(400, 0, errors.New("The model gemini-2.0-flash has been retired; use a newer model")), true},
		{"400 otherwise", StatusError(400, 0, errors.New("invalid JSON schema")), false},
		{"400 retired but not about a model", StatusError(400, 0, errors.New("field foo is retired")), false},
		{"403", StatusError(403, 0, errors.New("permission denied on model x")), false},
		{"429 transient", StatusError(429, 0, errors.New("model overloaded")), false},
		{"unclassified", errors.New("model not found"), false},
		{"canceled", context.Canceled, false},
	} {
		if got := ModelUnavailable(tt.err); got != tt.want {
			t.Errorf("%s: ModelUnavailable(%v) = %v, want %v", tt.name, tt.err, got, tt.want)
		}
	}
}
