// Package errs is promptml's one error vocabulary (modelled on genkit's
// core status errors): every error a caller must act on carries a Kind and
// a message safe to show to a user. The HTTP API maps a Kind to a status
// code in one place (functions/api), the event handlers map it to "ack" or
// "retry" in one place (functions/internal/handler, through Retryable).
//
// An error that nobody classified (a Firestore or Storage failure, say) is
// Internal to a user and retryable to a handler: a failure we do not
// understand may be transient, and a retry is the safe choice.
package errs

import (
	"errors"
	"fmt"
)

// Kind is the class of an error.
type Kind int

const (
	// Internal: a fault of promptml or of its state, not of the request;
	// answered as a generic 500 with an id, the details only in the log.
	Internal Kind = iota
	// InvalidArgument: the request, the dataset or the config is wrong;
	// retrying the same input fails the same way.
	InvalidArgument
	// NotFound: the run, prompt or phase does not exist.
	NotFound
	// Busy: another delivery holds the lease of the work; retry later.
	Busy
	// Unavailable: a dependency failed in a way that may pass (a model
	// that stayed rate limited, a timeout); retry later.
	Unavailable
)

var kindNames = [...]string{Internal: "internal", InvalidArgument: "invalid_argument", NotFound: "not_found",
	Busy: "busy", Unavailable: "unavailable"}

func (k Kind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return fmt.Sprintf("kind(%d)", int(k))
}

// Error is a classified error. Msg is safe to show to the user who made
// the request; Err, the cause, is for the log.
type Error struct {
	Kind Kind
	Msg  string
	Err  error
}

func (e *Error) Error() string {
	if e.Err == nil {
		return e.Msg
	}
	if e.Msg == "" {
		return e.Err.Error()
	}
	return e.Msg + ": " + e.Err.Error()
}

func (e *Error) Unwrap() error { return e.Err }

// Is makes two classified errors with the same kind and message equal, so
// a sentinel such as store.ErrNotFound matches the wrapped copies of it.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Kind == e.Kind && t.Msg == e.Msg && t.Err == nil
}

// New returns an error of kind k with a user-safe message.
func New(k Kind, format string, args ...any) *Error {
	return &Error{Kind: k, Msg: fmt.Sprintf(format, args...)}
}

// Wrap classifies err as k; msg (user-safe) says what failed, err why.
func Wrap(k Kind, err error, msg string) *Error { return &Error{Kind: k, Msg: msg, Err: err} }

// Invalid is an InvalidArgument error whose whole text is user-safe (a bad
// config or CSV: the user must read why).
func Invalid(err error) *Error { return &Error{Kind: InvalidArgument, Err: err} }

// KindOf returns the kind of the first classified error in err's tree;
// Internal when there is none.
func KindOf(err error) Kind {
	var e *Error
	if errors.As(err, &e) {
		return e.Kind
	}
	return Internal
}

// Retryable is the one ack-or-retry decision of an event handler: Busy
// and Unavailable errors and unclassified ones are retried (redelivered);
// InvalidArgument, NotFound and errors classified Internal (corrupt state:
// a retry cannot fix it) are acked. nil is not retried.
func Retryable(err error) bool {
	if err == nil {
		return false
	}
	var e *Error
	if !errors.As(err, &e) {
		return true
	}
	return e.Kind == Busy || e.Kind == Unavailable
}

// Message is what a user may be shown of err: the classified error's text
// for InvalidArgument, NotFound, Busy and Unavailable; "" for Internal
// errors and unclassified ones, whose text stays in the log.
func Message(err error) string {
	var e *Error
	if !errors.As(err, &e) || e.Kind == Internal {
		return ""
	}
	return e.Error()
}

// Permanent reports whether err is an error a retry cannot fix (the
// negation of Retryable for a non-nil error).
func Permanent(err error) bool { return err != nil && !Retryable(err) }
