package dataset

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"fmt"
	"hash"
	"io"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/promptml/promptml/shared/template"
)

// readBufferSize is the read-ahead of the CSV reader: large enough that
// reads from a network object are few, small enough not to matter for memory.
const readBufferSize = 256 << 10

// countingReader counts (and optionally hashes) the bytes read through it
// and enforces Limits.MaxBytes, so an oversized object fails as soon as the
// limit is passed instead of being read whole.
type countingReader struct {
	r   io.Reader
	h   hash.Hash // nil: do not hash
	n   int64
	max int64 // 0: unlimited
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	if c.max > 0 && c.n+int64(n) > c.max {
		return 0, &Error{Reason: fmt.Sprintf("file is larger than the limit of %d bytes (MaxBytes)", c.max)}
	}
	c.n += int64(n)
	if c.h != nil {
		c.h.Write(p[:n]) // hash.Hash.Write never fails
	}
	return n, err
}

// header is the column layout of a file.
type header struct {
	n                               int      // number of fields of every record
	userInput, groundTruth, id, spl int      // column indexes; -1 when absent
	names                           []string // per column: the name errors use
	vars                            []int    // indexes of the variables stored in Example.Vars
	used                            []int    // indexes of the columns a template uses, in file order
	variables                       []string // names a template may use (Manifest.Variables)
	ignored                         []string // header names of unused variables
}

// row is one validated data row. Its strings share the record's storage
// (encoding/csv allocates one string per record), so keeping a row keeps
// only that record alive.
type row struct {
	rec         int    // CSV record number, header = 1
	id          string // trimmed id, or the data row number
	userInput   string
	groundTruth string
	split       int      // idxTrain, idxVal, idxTest, or -1 when not given
	cells       []string // the whole record; valid until the next call to next
}

// reader validates a CSV stream row by row.
type reader struct {
	cr        *csv.Reader
	count     *countingReader
	limits    Limits
	templates []Template
	hdr       header
	rec       int // records returned so far, header included
}

// newReader checks the encoding, reads and validates the header. h, when not
// nil, receives every byte read.
func newReader(r io.Reader, lim Limits, templates []Template, h hash.Hash) (*reader, error) {
	count := &countingReader{r: r, h: h, max: lim.MaxBytes}
	br := bufio.NewReaderSize(count, readBufferSize)
	bom, err := br.Peek(3)
	if err != nil && err != io.EOF {
		return nil, readError(err, 0)
	}
	switch {
	case bytes.HasPrefix(bom, []byte{0xFF, 0xFE}), bytes.HasPrefix(bom, []byte{0xFE, 0xFF}):
		return nil, &Error{Row: 1, Reason: "file is UTF-16; save it as UTF-8"}
	case bytes.HasPrefix(bom, []byte{0xEF, 0xBB, 0xBF}):
		br.Discard(3) // cannot fail: the bytes are buffered
	}
	cr := csv.NewReader(br) // reuses br: it is a large enough *bufio.Reader
	cr.FieldsPerRecord = -1 // checked here, to name both counts
	cr.ReuseRecord = true
	rd := &reader{cr: cr, count: count, limits: lim, templates: templates}
	if err := rd.readHeader(); err != nil {
		return nil, err
	}
	return rd, nil
}

// maxVariablesListed bounds the variables a manifest lists: the optimizer
// may introduce only those.
const maxVariablesListed = 100

// maxIgnoredListed bounds the ignored column names a manifest lists (it is
// stored on the run document, which Firestore caps at 1 MiB); past it a
// last entry counts the rest. Each name is cut like in error messages.
const maxIgnoredListed = 50

func (rd *reader) readHeader() error {
	rec, err := rd.cr.Read()
	if err == io.EOF {
		return &Error{Reason: "file is empty; the first line must be a header with the columns user_input and ground_truth_output"}
	}
	rd.rec++
	if err != nil {
		return readError(err, rd.rec)
	}
	h := header{n: len(rec), userInput: -1, groundTruth: -1, id: -1, spl: -1, names: make([]string, len(rec))}
	seen := make(map[string]int, len(rec))
	var candidates []int // the variables, in file order
	for i, cell := range rec {
		where := fmt.Sprintf("header cell %d", i+1)
		if err := checkText(cell, rd.limits.MaxCellBytes); err != "" {
			return &Error{Row: rd.rec, Reason: where + ": " + err}
		}
		name := strings.TrimSpace(cell)
		if name == "" {
			h.names[i] = "#" + strconv.Itoa(i+1)
			continue // spreadsheets export trailing unnamed columns
		}
		key := strings.ToLower(name)
		if j, dup := seen[key]; dup {
			return &Error{Row: rd.rec, Column: clipName(name), Reason: fmt.Sprintf("duplicate column name (columns %d and %d)", j+1, i+1)}
		}
		seen[key] = i
		h.names[i] = name
		switch key {
		case ColumnUserInput:
			h.userInput, h.names[i] = i, ColumnUserInput
			candidates = append(candidates, i)
		case ColumnGroundTruth:
			h.groundTruth, h.names[i] = i, ColumnGroundTruth
		case ColumnID:
			h.id, h.names[i] = i, ColumnID
		case ColumnSplit:
			h.spl, h.names[i] = i, ColumnSplit
		default:
			h.vars = append(h.vars, i)
			candidates = append(candidates, i)
		}
	}
	// Every placeholder of every template must be a variable of the file.
	used := make(map[int]bool)
	for _, t := range rd.templates {
		for _, v := range template.Names(t.Text) {
			if isReserved(v) {
				return &Error{Row: rd.rec, Column: clipName(v), Reason: fmt.Sprintf(
					"%s uses {{%s}}, a reserved column: id, split and ground_truth_output are not variables (the expected answer is never shown to the model)", t.Field, clipName(v))}
			}
			i := slices.IndexFunc(candidates, func(c int) bool { return h.names[c] == v })
			if i < 0 {
				return &Error{Row: rd.rec, Column: clipName(v), Reason: missingColumn(rec, fmt.Sprintf("%s uses {{%s}}", t.Field, clipName(v)), v, h, candidates)}
			}
			used[candidates[i]] = true
		}
	}
	if h.groundTruth < 0 {
		return &Error{Row: rd.rec, Column: ColumnGroundTruth, Reason: missingColumn(rec, "", "", h, nil)}
	}
	nIgnored := 0
	for _, i := range candidates {
		if used[i] {
			h.used = append(h.used, i)
			continue
		}
		if len(h.ignored) < maxIgnoredListed {
			h.ignored = append(h.ignored, clipName(h.names[i]))
		}
		nIgnored++
	}
	if nIgnored > maxIgnoredListed {
		h.ignored = append(h.ignored, fmt.Sprintf("… and %d more", nIgnored-maxIgnoredListed))
	}
	for _, i := range candidates {
		if template.ValidName(h.names[i]) && len(h.variables) < maxVariablesListed {
			h.variables = append(h.variables, h.names[i])
		}
	}
	rd.hdr = h
	return nil
}

// next returns the next data row, or io.EOF after the last one. dataRow is
// the 1-based number of the row among data rows.
func (rd *reader) next(dataRow int) (row, error) {
	rec, err := rd.cr.Read()
	if err == io.EOF {
		return row{}, io.EOF
	}
	rd.rec++
	if err != nil {
		return row{}, readError(err, rd.rec)
	}
	if rd.limits.MaxRows > 0 && dataRow > rd.limits.MaxRows {
		return row{}, &Error{Row: rd.rec, Reason: fmt.Sprintf("more than %d data rows, the limit (MaxRows)", rd.limits.MaxRows)}
	}
	h := &rd.hdr
	if len(rec) != h.n {
		return row{}, &Error{Row: rd.rec, Reason: fmt.Sprintf("has %d fields, the header has %d", len(rec), h.n)}
	}
	for i, cell := range rec {
		if err := checkText(cell, rd.limits.MaxCellBytes); err != "" {
			return row{}, &Error{Row: rd.rec, Column: h.names[i], Reason: err}
		}
	}
	r := row{rec: rd.rec, groundTruth: rec[h.groundTruth], split: -1, cells: rec}
	if h.userInput >= 0 {
		r.userInput = rec[h.userInput]
	}
	for _, i := range h.used {
		if isBlank(rec[i]) {
			return row{}, &Error{Row: rd.rec, Column: h.names[i], Reason: "empty value"}
		}
	}
	if isBlank(r.groundTruth) {
		return row{}, &Error{Row: rd.rec, Column: ColumnGroundTruth, Reason: "empty value"}
	}
	if h.id >= 0 {
		r.id = strings.TrimSpace(rec[h.id])
		if r.id == "" {
			return row{}, &Error{Row: rd.rec, Column: ColumnID, Reason: "empty value"}
		}
	} else {
		r.id = strconv.Itoa(dataRow)
	}
	if h.spl >= 0 {
		s, ok := parseSplit(rec[h.spl])
		if !ok {
			return row{}, &Error{Row: rd.rec, Column: ColumnSplit, Reason: fmt.Sprintf("unknown split %s; use train, val or test, or leave it empty to assign by seed", quoteList(rec[h.spl:h.spl+1]))}
		}
		r.split = s
	}
	return r, nil
}

// missingColumn is the reason of a missing required column: the
// ground_truth_output column when use is "", else the variable name, which
// use (e.g. "prompt.user uses {{question}}") needs. It shows the header,
// with a hint for a name that differs only in case or for a file that is
// not comma-separated.
func missingColumn(rec []string, use, name string, h header, candidates []int) string {
	reason := "missing required column"
	if use != "" {
		reason += ": " + use
	}
	reason += fmt.Sprintf("; the header is %s", quoteList(rec))
	for _, i := range candidates {
		if strings.EqualFold(h.names[i], name) {
			return reason + fmt.Sprintf(" (names are case-sensitive in templates: write {{%s}})", clipName(h.names[i]))
		}
	}
	switch {
	case slices.ContainsFunc(rec, func(c string) bool { return strings.Contains(c, "\r") }):
		reason += " (lines end with a lone carriage return; save the file with LF or CRLF line endings)"
	case len(rec) == 1 && strings.ContainsAny(rec[0], ";\t|"):
		reason += " (the file must be comma-separated)"
	}
	return reason
}

// isReserved reports whether a placeholder names a column that is not a
// variable.
func isReserved(name string) bool {
	switch strings.ToLower(name) {
	case ColumnID, ColumnSplit, ColumnGroundTruth:
		return true
	}
	return false
}

// parseSplit maps a split cell to a split index, -1 for empty.
func parseSplit(s string) (int, bool) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "":
		return -1, true
	case Train:
		return idxTrain, true
	case Val, "validation", "valid", "dev":
		return idxVal, true
	case Test:
		return idxTest, true
	}
	return 0, false
}

// checkText returns why a cell cannot be used, or "" if it can.
func checkText(s string, maxBytes int) string {
	if maxBytes > 0 && len(s) > maxBytes {
		return fmt.Sprintf("cell is %d bytes, over the limit of %d (MaxCellBytes)", len(s), maxBytes)
	}
	if strings.IndexByte(s, 0) >= 0 {
		return "NUL byte in the cell (is the file UTF-16? save it as UTF-8)"
	}
	if !utf8.ValidString(s) {
		return fmt.Sprintf("invalid UTF-8 at byte %d of the cell; save the file as UTF-8", invalidUTF8At(s)+1)
	}
	return ""
}

// invalidUTF8At returns the offset of the first invalid UTF-8 sequence in s.
func invalidUTF8At(s string) int {
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			return i
		}
		i += size
	}
	return -1
}

func isBlank(s string) bool { return strings.TrimSpace(s) == "" }

// quoteList quotes the first few names for an error message.
func quoteList(names []string) string {
	const maxNames = 8
	q := slices.Clone(names[:min(len(names), maxNames)])
	for i, n := range q {
		q[i] = strconv.Quote(clipName(n))
	}
	if len(names) > maxNames {
		q = append(q, "…")
	}
	return strings.Join(q, ", ")
}

// clipName cuts a name or value quoted in a message to 40 bytes.
func clipName(n string) string {
	const maxLen = 40
	if len(n) > maxLen {
		return strings.ToValidUTF8(n[:maxLen], "") + "…"
	}
	return n
}
