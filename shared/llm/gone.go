package llm

import (
	"errors"
	"net/http"
	"strings"
)

// retiredWords are what providers say in the error of a model that was
// shut down when they do not answer 404 (a 400 or 410 with a message).
var retiredWords = []string{"retired", "no longer available", "has been shut down", "discontinued", "no longer supported"}

// ModelUnavailable reports whether err says the model itself is gone: a
// 404 (Vertex AI answers 404 for a retired or misspelled model), a 410, or
// a permanent error whose message says the model was retired. Every call
// to that model would fail the same way.
func ModelUnavailable(err error) bool {
	var e *Error
	if !errors.As(err, &e) || e.Kind != Permanent {
		return false
	}
	if e.Reason == ReasonNotFound || e.Code == http.StatusNotFound || e.Code == http.StatusGone {
		return true
	}
	msg := strings.ToLower(e.Error())
	if !strings.Contains(msg, "model") {
		return false
	}
	for _, w := range retiredWords {
		if strings.Contains(msg, w) {
			return true
		}
	}
	return false
}
