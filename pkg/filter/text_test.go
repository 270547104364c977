package filter

import (
	"reflect"
	"strings"
	"testing"
)

func TestTextFormRoundTrip(t *testing.T) {
	f := Filter{Groups: []Group{
		{Conditions: []Condition{{Property: "hs_sku", Op: OpHasProperty}, {Property: "lifecyclestage", Op: OpIn, Values: []string{"customer", "opportunity"}}}},
		{Conditions: []Condition{{Property: "createdate", Op: OpGte, Values: []string{"2026-11-27"}}}},
	}}
	text := Format(f)
	want := "hs_sku has_property\nlifecyclestage in customer | opportunity\nor\ncreatedate gte 2026-11-27\n"
	if text != want {
		t.Fatalf("text %q, want %q", text, want)
	}
	back, err := Parse("# the recommended defaults\n" + text + "\n")
	if err != nil || !reflect.DeepEqual(back, f) {
		t.Fatalf("parsed %+v %v", back, err)
	}
	for bad, msg := range map[string]string{
		"hs_sku":                     "line 1: want <property> <operator>",
		"hs_sku\nname sounds_like x": "line 1",
		"name like Acme":             `operator "like"`,
		"createdate gte":             "",
	} {
		_, err := Parse(bad)
		if err == nil || !strings.Contains(err.Error(), msg) {
			t.Errorf("Parse(%q): %v, want an error with %q", bad, err, msg)
		}
	}
	if f, err := Parse(""); err != nil || len(f.Groups) != 0 {
		t.Fatalf("empty text: %+v %v (every record passes)", f, err)
	}
}
