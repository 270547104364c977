// Package filter evaluates sync filters: an OR of groups, each an AND of
// conditions on record properties (P6). Pure functions, no I/O. A record
// that does not pass is excluded, with the rule that excluded it.
package filter

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Op is a condition operator.
type Op string

const (
	OpEq             Op = "eq"
	OpNeq            Op = "neq"
	OpIn             Op = "in"     // any value is one of Values
	OpNotIn          Op = "not_in" // no value is one of Values ("is none of")
	OpGt             Op = "gt"
	OpGte            Op = "gte"
	OpLt             Op = "lt"
	OpLte            Op = "lte"
	OpHasProperty    Op = "has_property"
	OpNotHasProperty Op = "not_has_property"
	OpContains       Op = "contains"
)

var ops = map[Op]bool{OpEq: true, OpNeq: true, OpIn: true, OpNotIn: true, OpGt: true, OpGte: true, OpLt: true,
	OpLte: true, OpHasProperty: true, OpNotHasProperty: true, OpContains: true}

// Condition tests one property. Property may name an associated object's
// property as "<association>.<property>" (e.g. "invoices.hs_invoice_status"),
// which has one value per associated record.
type Condition struct {
	Property string   `json:"property"`
	Op       Op       `json:"op"`
	Values   []string `json:"values,omitempty"`
}

// Group is an AND of conditions.
type Group struct {
	Conditions []Condition `json:"conditions"`
}

// Filter is an OR of groups. No groups: every record passes.
type Filter struct {
	Groups []Group `json:"groups"`
	// Locked filters cannot be edited by users (the outgoing invoice filter, P6).
	Locked bool `json:"locked,omitempty"`
}

// Fields is a record as the filter sees it: every property with its values
// (one for a plain property, one per associated record for "assoc.prop").
type Fields map[string][]string

// Result says whether a record passes and, if not, why.
type Result struct {
	Pass bool
	// Rule describes the failing condition of the closest group, in words
	// a user can act on, e.g. `invoices.hs_invoice_status is none of [draft] (has draft)`.
	Rule string
}

// Evaluate applies f to fields.
func (f Filter) Evaluate(fields Fields) Result {
	if len(f.Groups) == 0 {
		return Result{Pass: true}
	}
	var firstFailure string
	for _, g := range f.Groups {
		failed := ""
		for _, c := range g.Conditions {
			if !c.matches(fields[c.Property]) {
				failed = c.describe(fields[c.Property])
				break
			}
		}
		if failed == "" {
			return Result{Pass: true}
		}
		if firstFailure == "" {
			firstFailure = failed
		}
	}
	return Result{Rule: firstFailure}
}

func (c Condition) matches(values []string) bool {
	switch c.Op {
	case OpHasProperty:
		return hasValue(values)
	case OpNotHasProperty:
		return !hasValue(values)
	case OpNotIn:
		for _, v := range values {
			if inFold(v, c.Values) {
				return false
			}
		}
		return true
	case OpNeq:
		for _, v := range values {
			if len(c.Values) > 0 && strings.EqualFold(v, c.Values[0]) {
				return false
			}
		}
		return true
	}
	for _, v := range values {
		if c.matchOne(v) {
			return true
		}
	}
	return false
}

func (c Condition) matchOne(v string) bool {
	switch c.Op {
	case OpEq:
		return len(c.Values) > 0 && strings.EqualFold(v, c.Values[0])
	case OpIn:
		return inFold(v, c.Values)
	case OpContains:
		return len(c.Values) > 0 && strings.Contains(strings.ToLower(v), strings.ToLower(c.Values[0]))
	case OpGt, OpGte, OpLt, OpLte:
		if len(c.Values) == 0 {
			return false
		}
		cmp, ok := compare(v, c.Values[0])
		if !ok {
			return false
		}
		switch c.Op {
		case OpGt:
			return cmp > 0
		case OpGte:
			return cmp >= 0
		case OpLt:
			return cmp < 0
		default:
			return cmp <= 0
		}
	}
	return false
}

// compare orders two values as times (RFC 3339, dates, HubSpot epoch
// milliseconds) or numbers; ok is false when they are neither.
func compare(a, b string) (int, bool) {
	if ta, ok := parseTime(a); ok {
		if tb, ok := parseTime(b); ok {
			return ta.Compare(tb), true
		}
	}
	fa, errA := strconv.ParseFloat(a, 64)
	fb, errB := strconv.ParseFloat(b, 64)
	if errA != nil || errB != nil {
		return 0, false
	}
	switch {
	case fa < fb:
		return -1, true
	case fa > fb:
		return 1, true
	}
	return 0, true
}

func parseTime(s string) (time.Time, bool) {
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05-07:00", "2006-01-02"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t, true
		}
	}
	// HubSpot sends dates as epoch milliseconds in some properties.
	if ms, err := strconv.ParseInt(s, 10, 64); err == nil && len(s) >= 12 {
		return time.UnixMilli(ms), true
	}
	return time.Time{}, false
}

func hasValue(values []string) bool {
	for _, v := range values {
		if v != "" {
			return true
		}
	}
	return false
}

func inFold(v string, set []string) bool {
	for _, s := range set {
		if strings.EqualFold(v, s) {
			return true
		}
	}
	return false
}

var opWords = map[Op]string{OpEq: "is", OpNeq: "is not", OpIn: "is any of", OpNotIn: "is none of", OpGt: "is after/greater than",
	OpGte: "is on or after/at least", OpLt: "is before/less than", OpLte: "is on or before/at most",
	OpHasProperty: "is known", OpNotHasProperty: "is unknown", OpContains: "contains"}

func (c Condition) describe(values []string) string {
	rule := c.Property + " " + opWords[c.Op]
	switch c.Op {
	case OpHasProperty, OpNotHasProperty:
	case OpIn, OpNotIn:
		rule += " [" + strings.Join(c.Values, ", ") + "]"
	default:
		if len(c.Values) > 0 {
			rule += " " + c.Values[0]
		}
	}
	if len(values) == 0 {
		return rule + " (no value)"
	}
	return rule + " (has " + strings.Join(values, ", ") + ")"
}

// Validate names every malformed condition, e.g. for the setup page.
func (f Filter) Validate() error {
	var errs []error
	for gi, g := range f.Groups {
		if len(g.Conditions) == 0 {
			errs = append(errs, fmt.Errorf("group %d has no conditions", gi+1))
		}
		for ci, c := range g.Conditions {
			where := fmt.Sprintf("group %d, condition %d", gi+1, ci+1)
			switch {
			case c.Property == "":
				errs = append(errs, fmt.Errorf("%s: no property", where))
			case !ops[c.Op]:
				errs = append(errs, fmt.Errorf("%s: operator %q is not one of eq, neq, in, not_in, gt, gte, lt, lte, has_property, not_has_property, contains", where, c.Op))
			case c.Op == OpHasProperty || c.Op == OpNotHasProperty:
				if len(c.Values) > 0 {
					errs = append(errs, fmt.Errorf("%s: %s takes no value", where, c.Op))
				}
			case len(c.Values) == 0:
				errs = append(errs, fmt.Errorf("%s: %s needs a value", where, c.Op))
			case (c.Op == OpGt || c.Op == OpGte || c.Op == OpLt || c.Op == OpLte) && !comparable(c.Values[0]):
				errs = append(errs, fmt.Errorf("%s: %q is neither a date nor a number", where, c.Values[0]))
			}
		}
	}
	return errors.Join(errs...)
}

func comparable(v string) bool {
	if _, ok := parseTime(v); ok {
		return true
	}
	_, err := strconv.ParseFloat(v, 64)
	return err == nil
}
