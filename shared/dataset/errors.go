package dataset

import (
	"encoding/csv"
	"errors"
	"fmt"
	"strings"
)

// Error is a problem in the CSV that the user can fix: the message is meant
// to be shown to them as is. Callers find it with errors.As and record it on
// the run; any other error from this package is an I/O, configuration or
// concurrency failure.
type Error struct {
	// Row is the CSV record number, counting the header as row 1 (blank
	// lines are not records); 0 when the problem is about the whole file.
	Row int `json:"row,omitempty" firestore:"row,omitempty"`
	// Column is the column's header name, "#N" for an unnamed N-th column,
	// or empty when the problem is not about one column.
	Column string `json:"column,omitempty" firestore:"column,omitempty"`
	// Reason says what is wrong, e.g. "empty value".
	Reason string `json:"reason" firestore:"reason"`
}

// Error formats e like `row 12, column "ground_truth_output": empty value`.
func (e *Error) Error() string {
	var b strings.Builder
	if e.Row > 0 {
		fmt.Fprintf(&b, "row %d", e.Row)
	}
	if e.Column != "" {
		if b.Len() > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "column %q", e.Column)
	}
	if b.Len() > 0 {
		b.WriteString(": ")
	}
	b.WriteString(e.Reason)
	return b.String()
}

// readError turns an error from the CSV reader into the error Validate and
// Ingest return: syntax errors become an *Error at row (encoding/csv only
// knows lines, so the line and byte column go in the reason), our own *Error
// (a limit) passes through, anything else is an I/O failure.
func readError(err error, row int) error {
	var de *Error
	if errors.As(err, &de) {
		return de
	}
	var pe *csv.ParseError
	if errors.As(err, &pe) {
		where := fmt.Sprintf("line %d, column %d", pe.Line, pe.Column)
		if pe.StartLine != pe.Line {
			// An unclosed quote runs on to the end of the file; where the
			// row starts is what the user needs.
			where += fmt.Sprintf(" (the row starts on line %d)", pe.StartLine)
		}
		return &Error{Row: row, Reason: fmt.Sprintf("%s: %v (a cell with quotes, commas or line breaks must be quoted, with its quotes doubled)", where, pe.Err)}
	}
	return fmt.Errorf("read dataset: %w", err)
}
