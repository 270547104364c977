// Package export writes reports and record lists as files people open in
// spreadsheets.
package export

import (
	"encoding/csv"
	"io"
	"strconv"
	"strings"
)

// SafeCell keeps a spreadsheet from running a cell as a formula: text that
// starts with =, +, -, @, a tab or a carriage return gets a leading
// apostrophe (OWASP's CSV injection advice). Numbers such as "-12.50" stay
// numbers.
func SafeCell(s string) string {
	if s == "" || !strings.ContainsAny(s[:1], "=+-@\t\r") {
		return s
	}
	if _, err := strconv.ParseFloat(s, 64); err == nil {
		return s
	}
	return "'" + s
}

// WriteCSV writes a header and rows, every cell made safe.
func WriteCSV(w io.Writer, header []string, rows [][]string) error {
	cw := csv.NewWriter(w)
	if err := cw.Write(safeRow(header)); err != nil {
		return err
	}
	for _, r := range rows {
		if err := cw.Write(safeRow(r)); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}

func safeRow(r []string) []string {
	out := make([]string, len(r))
	for i, c := range r {
		out[i] = SafeCell(c)
	}
	return out
}
