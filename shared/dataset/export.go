package dataset

import (
	"encoding/csv"
	"io"
	"strconv"
	"strings"
)

// formulaPrefixes are the first characters that make a spreadsheet read a
// cell as a formula (OWASP "CSV injection"), with their full-width forms,
// which some spreadsheets fold to ASCII.
var formulaPrefixes = []string{"=", "+", "-", "@", "\t", "\r", "＝", "＋", "－", "＠"}

// SafeCell neutralizes a cell a spreadsheet would evaluate: one that
// starts with '=', '+', '-', '@', a tab or a carriage return gets a
// leading single quote, which spreadsheets show as text. Plain numbers
// ("-0.5", "+3") are left alone: they are not formulas and stay numbers.
// Every CSV the project writes for people to open passes its cells
// through SafeCell (see CSVWriter); the datasets it reads keep their
// cells exactly (a formula-looking input is data to the model).
func SafeCell(s string) string {
	for _, p := range formulaPrefixes {
		if strings.HasPrefix(s, p) {
			if _, err := strconv.ParseFloat(s, 64); err == nil {
				return s
			}
			return "'" + s
		}
	}
	return s
}

// CSVWriter is an encoding/csv writer whose cells go through SafeCell.
type CSVWriter struct {
	w   *csv.Writer
	buf []string
}

// NewCSVWriter returns a CSVWriter on w.
func NewCSVWriter(w io.Writer) *CSVWriter { return &CSVWriter{w: csv.NewWriter(w)} }

// Write writes one record (a nil or empty record is an empty line).
func (c *CSVWriter) Write(rec []string) error {
	c.buf = c.buf[:0]
	for _, s := range rec {
		c.buf = append(c.buf, SafeCell(s))
	}
	return c.w.Write(c.buf)
}

// WriteAll writes the records and flushes.
func (c *CSVWriter) WriteAll(recs [][]string) error {
	for _, r := range recs {
		if err := c.Write(r); err != nil {
			return err
		}
	}
	c.w.Flush()
	return c.w.Error()
}

// Flush writes any buffered data.
func (c *CSVWriter) Flush() { c.w.Flush() }

// Error reports any error of an earlier Write or Flush.
func (c *CSVWriter) Error() error { return c.w.Error() }
