package record

import (
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
