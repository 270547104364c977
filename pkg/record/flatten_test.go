package record

import (
	"maps"
	"strings"
	"testing"

	json "github.com/goccy/go-json"

	"github.com/ledgersync/ledgersync/pkg/money"
)

// Amounts go through flatten and expand as exact decimal text: a float64
// on the way would turn 90071992547409.93 into ...409.94.
func TestAmountsStayExactThroughFlattenAndExpand(t *testing.T) {
	in := struct {
		Price money.Amount `json:"UnitPrice"`
		Name  string       `json:"Name"`
	}{money.MustParse("90071992547409.93"), "Widget"}
	fields, err := FlattenValue(in)
	if err != nil {
		t.Fatal(err)
	}
	if fields["UnitPrice"] != "90071992547409.93" {
		t.Fatalf("flattened price %q", fields["UnitPrice"])
	}
	body, err := json.Marshal(Expand(fields, nil, map[string]bool{"UnitPrice": true}))
	if err != nil {
		t.Fatal(err)
	}
	if string(body) != `{"Name":"Widget","UnitPrice":90071992547409.93}` {
		t.Fatalf("expanded %s", body)
	}
}

// FlattenValue reads the marshalled value straight into paths; it must give
// what the generic decode gives, for every shape an entity can take.
func TestFlattenValueMatchesTheDecodedFlatten(t *testing.T) {
	type addr struct {
		Line1 string `json:"Line1,omitempty"`
		City  string `json:"City"`
	}
	type line struct {
		Amount money.Amount `json:"Amount"`
		Detail *addr        `json:"Detail,omitempty"`
	}
	type entity struct {
		ID      string       `json:"Id"`
		Name    string       `json:"DisplayName"`
		Active  bool         `json:"Active"`
		Taxable *bool        `json:"Taxable,omitempty"`
		Balance money.Amount `json:"Balance"`
		Count   int          `json:"Count"`
		Ratio   float64      `json:"Ratio"`
		Bill    *addr        `json:"BillAddr"`
		Ship    *addr        `json:"ShipAddr"`
		Lines   []line       `json:"Line"`
		Tags    []string     `json:"Tags"`
		Extra   map[string]any
		Empty   struct{} `json:"Empty"`
	}
	no := false
	for name, v := range map[string]any{
		"entity": entity{ID: "7", Name: `Ada "Countess" <Lovelace> & Co \ é 日本 ` + "\u2028\t\n", Active: true, Taxable: &no,
			Balance: money.MustParse("-12.50"), Count: -3, Ratio: 1.5e-9, Bill: &addr{Line1: "1 [Main] {St}, \"x\"", City: "Zürich"},
			Lines: []line{{Amount: money.MustParse("3.10"), Detail: &addr{City: "a]b"}}}, Tags: []string{"}", "]"},
			Extra: map[string]any{"n": nil, "deep": map[string]any{"x": []any{map[string]any{"y": 1}}, "z": "w", "q": nil}, "big": 1e21}},
		"zero entity":      entity{},
		"nil pointer":      (*entity)(nil),
		"map":              map[string]any{"a": map[string]any{"b": map[string]any{"c": "d"}}, "e": []any{}, "f": "\\"},
		"empty map":        map[string]string{},
		"escaped keys":     map[string]string{`k"ey`: "v", "k\\": "w", "<k>": "x"},
		"string with nuls": map[string]string{"s": "a\x00b\x1f"},
	} {
		t.Run(name, func(t *testing.T) {
			b, err := json.Marshal(v)
			if err != nil {
				t.Fatal(err)
			}
			want, err := flattenDecoded(b)
			if err != nil {
				t.Fatal(err)
			}
			if _, direct := flattenObject(b, "", map[string]string{}); !direct && name != "nil pointer" {
				t.Fatal("read through the decoder, not directly")
			}
			sameAsDecoded(t, v, want)
		})
	}
}

func FuzzFlattenValueMatchesTheDecodedFlatten(f *testing.F) {
	f.Add(`{"a":{"b":"c\"d","e":[1,{"f":"]"}],"g":null,"h":-1.5e3,"i":true}}`)
	f.Add(`{"DisplayName":"x","PrimaryEmailAddr":{"Address":"a@b.c"},"Balance":0}`)
	f.Fuzz(func(t *testing.T, doc string) {
		dec := json.NewDecoder(strings.NewReader(doc))
		dec.UseNumber()
		var v map[string]any
		if dec.Decode(&v) != nil {
			return
		}
		b, err := json.Marshal(v)
		if err != nil {
			return
		}
		want, err := flattenDecoded(b)
		if err != nil {
			t.Fatal(err)
		}
		sameAsDecoded(t, v, want)
	})
}

// sameAsDecoded fails t unless FlattenValue(v) is exactly want, the
// flatten of the decoder path.
func sameAsDecoded(t *testing.T, v any, want map[string]string) {
	t.Helper()
	got, err := FlattenValue(v)
	if err != nil {
		t.Fatal(err)
	}
	if !maps.Equal(got, want) {
		t.Fatalf("direct flatten differs from the decoded one:\ngot  %v\nwant %v", got, want)
	}
}
