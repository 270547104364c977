package export

import (
	"bytes"
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
