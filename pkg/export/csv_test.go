package export

import (
	"bytes"
	"github.com/xuri/excelize/v2"
	"testing"
)

func TestSafeCell(t *testing.T) {
	for in, want := range map[string]string{
		"":                   "",
		"Acme":               "Acme",
		"=HYPERLINK(\"x\")":  "'=HYPERLINK(\"x\")",
		"+1 555":             "'+1 555",
		"-cmd|' /C calc'!A0": "'-cmd|' /C calc'!A0",
		"@SUM(A1)":           "'@SUM(A1)",
		"\t=1":               "'\t=1",
		"-12.50":             "-12.50",
		"+3":                 "+3",
		"2026-11-01":         "2026-11-01",
	} {
		if got := SafeCell(in); got != want {
			t.Errorf("SafeCell(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestWriteCSVQuotesAndEscapes(t *testing.T) {
	var b bytes.Buffer
	if err := WriteCSV(&b, []string{"name", "amount"}, [][]string{{"=1+1", "-5.00"}, {"a,b", "3"}}); err != nil {
		t.Fatal(err)
	}
	want := "name,amount\n'=1+1,-5.00\n\"a,b\",3\n"
	if b.String() != want {
		t.Fatalf("csv = %q, want %q", b.String(), want)
	}
}

func TestXLSXKeepsFormulasAsText(t *testing.T) {
	var b bytes.Buffer
	w, err := NewWriter(FormatXLSX, &b)
	if err != nil {
		t.Fatal(err)
	}
	for _, row := range [][]string{{"name", "amount"}, {"=HYPERLINK(\"http://evil\")", "12.50"}} {
		if err := w.Row(row); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	f, err := excelize.OpenReader(&b)
	if err != nil {
		t.Fatal(err)
	}
	rows, err := f.GetRows("Sheet1")
	if err != nil || len(rows) != 2 || rows[1][0] != "=HYPERLINK(\"http://evil\")" {
		t.Fatalf("rows %q %v", rows, err)
	}
	if formula, _ := f.GetCellFormula("Sheet1", "A2"); formula != "" {
		t.Fatalf("A2 became a formula: %q", formula)
	}
}
