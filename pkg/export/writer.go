package export

import (
	"encoding/csv"
	"fmt"
	"io"

	"github.com/xuri/excelize/v2"
)

// Formats an export can be written in.
const (
	FormatCSV  = "csv"
	FormatXLSX = "xlsx"
)

// Writer writes a table one row at a time, so an export of any size needs
// little memory.
type Writer interface {
	Row(cells []string) error
	// Close finishes the file (XLSX is written out here).
	Close() error
}

// NewWriter returns a writer of format to w.
func NewWriter(format string, w io.Writer) (Writer, error) {
	switch format {
	case FormatCSV:
		return &csvWriter{w: csv.NewWriter(w)}, nil
	case FormatXLSX:
		f := excelize.NewFile()
		sw, err := f.NewStreamWriter("Sheet1")
		if err != nil {
			return nil, err
		}
		return &xlsxWriter{f: f, sw: sw, out: w}, nil
	}
	return nil, fmt.Errorf("format %q: want csv or xlsx", format)
}

// ContentType is the media type of format.
func ContentType(format string) string {
	if format == FormatXLSX {
		return "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
	}
	return "text/csv; charset=utf-8"
}

type csvWriter struct{ w *csv.Writer }

// Row writes cells made safe for spreadsheets (SafeCell).
func (c *csvWriter) Row(cells []string) error { return c.w.Write(safeRow(cells)) }

func (c *csvWriter) Close() error {
	c.w.Flush()
	return c.w.Error()
}

// xlsxWriter writes every cell as text: a spreadsheet shows "=1+1" from a
// text cell as it is and never runs it.
type xlsxWriter struct {
	f   *excelize.File
	sw  *excelize.StreamWriter
	out io.Writer
	n   int
}

func (x *xlsxWriter) Row(cells []string) error {
	x.n++
	vals := make([]any, len(cells))
	for i, c := range cells {
		vals[i] = excelize.Cell{Value: c}
	}
	cell, err := excelize.CoordinatesToCellName(1, x.n)
	if err != nil {
		return err
	}
	return x.sw.SetRow(cell, vals)
}

func (x *xlsxWriter) Close() error {
	if err := x.sw.Flush(); err != nil {
		return err
	}
	if _, err := x.f.WriteTo(x.out); err != nil {
		return err
	}
	return x.f.Close()
}
