package errs

import (
	"errors"
	"fmt"
	"testing"
)

func TestClassification(t *testing.T) {
	sentinel := New(NotFound, "not found")
	for _, tc := range []struct {
		name      string
		err       error
		kind      Kind
		retryable bool
		message   string
	}{
		{"nil", nil, Internal, false, ""},
		{"unclassified", errors.New("firestore: deadline exceeded"), Internal, true, ""},
		{"invalid", fmt.Errorf("start: %w", Invalid(errors.New("invalid config: epochs: must be >= 0"))), InvalidArgument, false,
			"invalid config: epochs: must be >= 0"},
		{"not found sentinel wrapped", fmt.Errorf("store.GetRun r: %w", sentinel), NotFound, false, "not found"},
		{"internal is acked, not shown", Wrap(Internal, errors.New("json: bad"), "run r has an unreadable config"), Internal, false, ""},
		{"busy", fmt.Errorf("advance: %w", New(Busy, "another delivery holds the lease")), Busy, true, "another delivery holds the lease"},
		{"unavailable", Wrap(Unavailable, errors.New("429"), "optimizer model"), Unavailable, true, "optimizer model: 429"},
		{"joined with a permanent one", errors.Join(errors.New("x"), Invalid(errors.New("bad csv"))), InvalidArgument, false, "bad csv"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.err != nil {
				if got := KindOf(tc.err); got != tc.kind {
					t.Errorf("KindOf = %v, want %v", got, tc.kind)
				}
			}
			if got := Retryable(tc.err); got != tc.retryable {
				t.Errorf("Retryable = %v, want %v", got, tc.retryable)
			}
			if got := Message(tc.err); got != tc.message {
				t.Errorf("Message = %q, want %q", got, tc.message)
			}
		})
	}
	if !errors.Is(fmt.Errorf("x: %w", sentinel), sentinel) {
		t.Error("a wrapped sentinel is not errors.Is the sentinel")
	}
}
