// Package money is the one type the sync uses for amounts, prices, quantities
// and rates. Values are exact decimals: float64 cannot hold 0.1 or 19.99, so
// totals computed from floats drift by fractions of a cent and then disagree
// with what QBO computes, which makes echo detection and comparisons flap.
package money

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/shopspring/decimal"
)

// Parse limits. No real amount, price, quantity or rate comes near them;
// they keep absurd input ("1e400", "1e-9999") from turning into huge numbers
// that cost memory on every operation and that no JSON consumer of ours can
// read back as float64 without losing cents.
const (
	maxIntDigits = 15 // |value| < 1e15
	maxScale     = 20 // decimal places
)

// Amount is an exact decimal amount. The zero value is 0. Compare with Equal
// or Cmp: == compares the representation (12.5 and 12.50 differ), not the
// value.
type Amount struct {
	d decimal.Decimal
}

// Zero is the amount 0, for readability at call sites.
var Zero Amount

// Parse reads a plain decimal ("12", "-3.10", " 7 ") or exponent notation
// ("1.5e3", which JSON allows for numbers). It refuses anything that is not
// a finite number within the limits above; the error quotes the input.
func Parse(s string) (Amount, error) {
	d, err := decimal.NewFromString(strings.TrimSpace(s))
	if err != nil {
		return Zero, fmt.Errorf("money: %q is not a decimal number", s)
	}
	if !d.IsZero() && int(d.Exponent())+d.NumDigits() > maxIntDigits {
		return Zero, fmt.Errorf("money: %q is too large", s)
	}
	// Trailing zeros are harmless, so only a value that rounding to maxScale
	// would change has too many places.
	if d.Exponent() < -maxScale {
		if r := d.Round(maxScale); r.Equal(d) {
			d = r
		} else {
			return Zero, fmt.Errorf("money: %q has more than %d decimal places", s, maxScale)
		}
	}
	return Amount{d}, nil
}

// MustParse is Parse for constants and tests; it panics on bad input.
func MustParse(s string) Amount {
	a, err := Parse(s)
	if err != nil {
		panic(err)
	}
	return a
}

// FromCents turns a whole number of cents into an amount.
func FromCents(c int64) Amount { return Amount{decimal.New(c, -2)} }

// Add returns a + b.
func (a Amount) Add(b Amount) Amount { return Amount{a.d.Add(b.d)} }

// Sub returns a - b.
func (a Amount) Sub(b Amount) Amount { return Amount{a.d.Sub(b.d)} }

// Neg returns -a.
func (a Amount) Neg() Amount { return Amount{a.d.Neg()} }

// Mul returns a × q exactly (quantity × unit price); round the result with
// Round2 where QBO expects a line amount.
func (a Amount) Mul(q Amount) Amount { return Amount{a.d.Mul(q.d)} }

// Round2 rounds to cents half away from zero (2.345 -> 2.35, -2.345 ->
// -2.35), as QBO rounds line amounts and taxes; not banker's rounding.
func (a Amount) Round2() Amount { return Amount{a.d.Round(2)} }

// Cents returns a as a whole number of cents. It fails rather than round
// when a has fractions of a cent, and when the result overflows int64.
func (a Amount) Cents() (int64, error) {
	c := a.d.Shift(2)
	if !c.IsInteger() {
		return 0, fmt.Errorf("money: %s is not a whole number of cents", a)
	}
	b := c.BigInt()
	if !b.IsInt64() {
		return 0, fmt.Errorf("money: %s cents overflow int64", a)
	}
	return b.Int64(), nil
}

// Cmp returns -1, 0 or +1 as a is less than, equal to or greater than b.
func (a Amount) Cmp(b Amount) int { return a.d.Cmp(b.d) }

// Equal reports whether a and b are the same value (12.5 equals 12.50).
func (a Amount) Equal(b Amount) bool { return a.d.Equal(b.d) }

// IsZero reports a == 0. It also makes `json:",omitzero"` omit zero
// amounts, which `omitempty` cannot do for a struct type.
func (a Amount) IsZero() bool { return a.d.IsZero() }

// Sign returns -1, 0 or +1 by the sign of a.
func (a Amount) Sign() int { return a.d.Sign() }

// String is the canonical form: plain notation without superfluous trailing
// zeros ("12.5", "12", "-0.01"), so equal values print, compare and hash
// alike. It is built from StringFixed so that it does not depend on the
// decimal package's formatting globals.
func (a Amount) String() string {
	places := max(-a.d.Exponent(), 0)
	s := a.d.StringFixed(places)
	if places > 0 {
		s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
	}
	return s
}

// StringFixed2 is the display form with exactly two decimals ("12.50"),
// rounded half away from zero.
func (a Amount) StringFixed2() string { return a.d.StringFixed(2) }

// MarshalJSON writes a JSON number, which is what QBO expects (the decimal
// package would write a string).
func (a Amount) MarshalJSON() ([]byte, error) { return []byte(a.String()), nil }

// UnmarshalJSON reads a JSON number or a quoted number (HubSpot sends
// numbers as strings). null leaves a unchanged, as encoding/json does for
// other types.
func (a *Amount) UnmarshalJSON(b []byte) error {
	s := string(b)
	if s == "null" {
		return nil
	}
	if strings.HasPrefix(s, `"`) {
		if err := json.Unmarshal(b, &s); err != nil {
			return fmt.Errorf("money: %s is not a JSON string", b)
		}
	}
	v, err := Parse(s)
	if err != nil {
		return err
	}
	*a = v
	return nil
}
