package money

import (
	"encoding/json"
	"math"
	"strconv"
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	cases := []struct{ in, want string }{
		{"12", "12"},
		{"12.5", "12.5"},
		{"12.50", "12.5"},
		{"-3.10", "-3.1"},
		{" 7 ", "7"},
		{"-0.01", "-0.01"},
		{"+4", "4"},
		{".5", "0.5"},
		{"1.5e3", "1500"},
		{"0.000", "0"},
		{"1." + strings.Repeat("0", 30), "1"}, // trailing zeros are not places
		{"999999999999999.99", "999999999999999.99"},
	}
	for _, c := range cases {
		a, err := Parse(c.in)
		if err != nil || a.String() != c.want {
			t.Errorf("Parse(%q) = %v, %v; want %s", c.in, a, err, c.want)
		}
	}
}

func TestParseErrors(t *testing.T) {
	for _, in := range []string{"", "  ", "abc", "1e400", "1e-400", "1000000000000000", "NaN", "Inf", "-Infinity", "1,5", "12.5.1", "0x10", "1_000", "--1"} {
		_, err := Parse(in)
		if err == nil {
			t.Errorf("Parse(%q) accepted", in)
			continue
		}
		if !strings.Contains(err.Error(), strconv.Quote(in)) {
			t.Errorf("Parse(%q): error %q does not name the value", in, err)
		}
	}
}

func TestArithmeticIsExact(t *testing.T) {
	if got := MustParse("0.1").Add(MustParse("0.2")); !got.Equal(MustParse("0.3")) {
		t.Errorf("0.1 + 0.2 = %s", got)
	}
	if got := MustParse("3").Mul(MustParse("19.99")); got.String() != "59.97" {
		t.Errorf("3 × 19.99 = %s", got)
	}
	if got := MustParse("10").Sub(MustParse("0.01")).Neg(); got.String() != "-9.99" {
		t.Errorf("-(10 - 0.01) = %s", got)
	}
	// A tenth added ten times is exactly one, where float64 is not.
	sum := Zero
	for range 10 {
		sum = sum.Add(MustParse("0.1"))
	}
	if !sum.Equal(MustParse("1")) {
		t.Errorf("ten tenths = %s", sum)
	}
}

func TestRound2HalfAwayFromZero(t *testing.T) {
	cases := map[string]string{"2.345": "2.35", "-2.345": "-2.35", "2.344": "2.34", "2.5": "2.5", "0.005": "0.01", "-0.004": "0", "1.125": "1.13"}
	for in, want := range cases {
		if got := MustParse(in).Round2(); got.String() != want {
			t.Errorf("Round2(%s) = %s, want %s", in, got, want)
		}
	}
}

func TestStringFixed2(t *testing.T) {
	cases := map[string]string{"12.5": "12.50", "12": "12.00", "-0.01": "-0.01", "2.345": "2.35", "0": "0.00"}
	for in, want := range cases {
		if got := MustParse(in).StringFixed2(); got != want {
			t.Errorf("StringFixed2(%s) = %s, want %s", in, got, want)
		}
	}
}

func TestCents(t *testing.T) {
	for in, want := range map[string]int64{"12.34": 1234, "-0.01": -1, "7": 700, "0": 0, "1.50": 150} {
		if got, err := MustParse(in).Cents(); err != nil || got != want {
			t.Errorf("Cents(%s) = %d, %v; want %d", in, got, err, want)
		}
	}
	if _, err := MustParse("1.234").Cents(); err == nil {
		t.Error("fractions of a cent accepted")
	}
	huge := FromCents(math.MaxInt64).Mul(MustParse("10"))
	if _, err := huge.Cents(); err == nil {
		t.Error("overflow accepted")
	}
	if got := FromCents(-1999); got.String() != "-19.99" {
		t.Errorf("FromCents(-1999) = %s", got)
	}
}

func TestCompare(t *testing.T) {
	a, b := MustParse("12.5"), MustParse("12.50")
	if !a.Equal(b) || a.Cmp(b) != 0 || a.Cmp(MustParse("13")) != -1 || a.Sign() != 1 || a.Neg().Sign() != -1 {
		t.Error("comparisons")
	}
	if !Zero.IsZero() || !MustParse("0.00").IsZero() || a.IsZero() || Zero.Sign() != 0 {
		t.Error("IsZero")
	}
}

type doc struct {
	Amount   Amount  `json:"Amount"`
	Price    *Amount `json:"Price,omitempty"`
	Discount Amount  `json:"Discount,omitzero"`
}

func TestJSONWritesNumbers(t *testing.T) {
	p := MustParse("0")
	b, err := json.Marshal(doc{Amount: MustParse("59.970"), Price: &p})
	if err != nil {
		t.Fatal(err)
	}
	if string(b) != `{"Amount":59.97,"Price":0}` {
		t.Fatalf("got %s", b)
	}
}

func TestJSONReads(t *testing.T) {
	cases := map[string]string{
		`{"Amount":19.99}`:     "19.99",
		`{"Amount":"19.99"}`:   "19.99",
		`{"Amount":" 7 "}`:     "7",
		`{"Amount":1.5E2}`:     "150",
		`{"Amount":null}`:      "0",
		`{"Amount":-0.10}`:     "-0.1",
		`{"Amount":"-0.10"}`:   "-0.1",
		`{"Price":"3.5"}`:      "0",
		`{"Amount":0.1,"x":1}`: "0.1",
	}
	for in, want := range cases {
		var d doc
		if err := json.Unmarshal([]byte(in), &d); err != nil || d.Amount.String() != want {
			t.Errorf("%s: %v, %v; want %s", in, d.Amount, err, want)
		}
	}
	for _, in := range []string{`{"Amount":"abc"}`, `{"Amount":""}`, `{"Amount":true}`, `{"Amount":"1e400"}`} {
		var d doc
		if err := json.Unmarshal([]byte(in), &d); err == nil {
			t.Errorf("%s accepted", in)
		}
	}
}

func TestJSONNullKeepsValue(t *testing.T) {
	a := MustParse("5")
	if err := json.Unmarshal([]byte("null"), &a); err != nil || !a.Equal(MustParse("5")) {
		t.Fatalf("null: %v %v", a, err)
	}
}

func TestJSONRoundTrip(t *testing.T) {
	for _, in := range []string{`{"Amount":"1234.5600","Price":"0.333"}`, `{"Amount":1234.56,"Price":0.333}`} {
		var d doc
		if err := json.Unmarshal([]byte(in), &d); err != nil {
			t.Fatal(err)
		}
		b, _ := json.Marshal(d)
		if string(b) != `{"Amount":1234.56,"Price":0.333}` {
			t.Errorf("%s -> %s", in, b)
		}
		var back doc
		if err := json.Unmarshal(b, &back); err != nil || !back.Amount.Equal(d.Amount) || !back.Price.Equal(*d.Price) {
			t.Errorf("%s: round trip %+v, %v", in, back, err)
		}
	}
	b, _ := json.Marshal(doc{Discount: MustParse("2.5")})
	if string(b) != `{"Amount":0,"Discount":2.5}` {
		t.Errorf("omitzero with a value: %s", b)
	}
}
