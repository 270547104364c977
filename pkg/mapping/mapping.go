// Package mapping turns a record of one side into the fields of the other:
// field mappings with type checks (P5), the display-name rule (P11), and the
// hash of mapped fields the writer stores to recognise its own echoes (P18).
// Pure functions, no I/O.
package mapping

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/ledgersync/ledgersync/pkg/connection"
	"github.com/ledgersync/ledgersync/pkg/money"
	"github.com/ledgersync/ledgersync/pkg/syncerr"
	"github.com/ledgersync/ledgersync/streams"
)

// Values is one side's record reduced to mapped fields: HubSpot property
// names, or QBO field paths such as "PrimaryEmailAddr.Address".
type Values map[string]string

// CodeMappingType is the failure category of a value that does not fit its
// mapping's type.
const CodeMappingType syncerr.Code = "MAPPING_TYPE"

// Apply maps from one side to the other. toQBO picks the direction. Only
// enabled mappings apply. A value that does not fit the mapping's type is a
// permanent error naming the field: it is not silently dropped.
func Apply(mappings []connection.Mapping, src Values, toQBO bool) (Values, error) {
	out := Values{}
	var errs []error
	for _, m := range mappings {
		if !m.Enabled {
			continue
		}
		from, to := m.QBO, m.HubSpot
		if toQBO {
			from, to = m.HubSpot, m.QBO
		}
		// An absent value is an empty one (QBO leaves empty fields out):
		// the writer clears it on the other side if it was filled before.
		v := src[from]
		if v == "" {
			out[to] = ""
			continue
		}
		norm, err := Normalize(m.Type, v)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s -> %s: %w", from, to, err))
			continue
		}
		out[to] = norm
	}
	if len(errs) > 0 {
		return out, syncerr.Permanent(CodeMappingType, errors.Join(errs...))
	}
	return out, nil
}

// Normalize checks v against a mapping type and returns its canonical form,
// so equal values hash equally on both sides ("12.50" and "12.5").
func Normalize(typ, v string) (string, error) {
	v = strings.TrimSpace(v)
	if v == "" {
		return "", nil
	}
	switch typ {
	case "", "string", "enum":
		return v, nil
	case "number", "money":
		return normalizeNumber(typ, v)
	case "bool":
		b, err := strconv.ParseBool(v)
		if err != nil {
			return "", fmt.Errorf("%q is not true or false", v)
		}
		return strconv.FormatBool(b), nil
	case "date":
		// QBO dates are YYYY-MM-DD; HubSpot date properties are midnight UTC
		// in epoch milliseconds or the same YYYY-MM-DD.
		if t, err := time.Parse("2006-01-02", v); err == nil {
			return t.Format("2006-01-02"), nil
		}
		if ms, err := strconv.ParseInt(v, 10, 64); err == nil {
			return time.UnixMilli(ms).UTC().Format("2006-01-02"), nil
		}
		if t, err := time.Parse(time.RFC3339, v); err == nil {
			return t.UTC().Format("2006-01-02"), nil
		}
		return "", fmt.Errorf("%q is not a date", v)
	}
	return "", fmt.Errorf("unknown mapping type %q", typ)
}

// normalizeNumber reads v as an exact decimal, never a float64, which
// would turn "0.1" into 0.1000000000000000055... and large amounts into
// approximations. Exponent notation ("1e3") is accepted because JSON
// producers may write numbers that way; the canonical form is plain
// ("1000"). Money is rounded to cents half away from zero, as QBO does, so
// a HubSpot value of 12.345 and QBO's 12.35 hash alike.
func normalizeNumber(typ, v string) (string, error) {
	a, err := money.Parse(v)
	if err != nil {
		return "", fmt.Errorf("%q is not a number", v)
	}
	if typ == "money" {
		a = a.Round2()
	}
	return a.String(), nil
}

// CheckMappings reports the custom mappings of an object that cannot work
// with the fields the two sides really have (the setup page's checks): a
// field the side does not have, a read-only field the direction writes
// to, or a type that does not fit the field written. hubspot is nil when
// the properties could not be read (HubSpot not connected yet): its names
// are then checked at the first sync instead.
func CheckMappings(object streams.Object, mappings []connection.Mapping, dir connection.Direction, hubspot, qbo map[string]Field) error {
	var errs []error
	entity := qboEntityNames[object]
	for i, m := range mappings {
		if m.Default {
			continue
		}
		n := i + 1
		qf, qok := qbo[m.QBO]
		hf, hok := hubspot[m.HubSpot]
		if !qok {
			errs = append(errs, fmt.Errorf("mapping %d: QBO %s have no field %q", n, entity, m.QBO))
		}
		if hubspot != nil && !hok {
			errs = append(errs, fmt.Errorf("mapping %d: HubSpot has no %s property %q", n, object, m.HubSpot))
		}
		check := func(side string, f Field, written bool) {
			switch {
			case !written:
			case f.ReadOnly:
				errs = append(errs, fmt.Errorf("mapping %d: %s %s is read-only there, so %s cannot write it; map it the other way only", n, side, f.Name, side))
			case !fits(m.Type, f.Type):
				errs = append(errs, fmt.Errorf("mapping %d: %s %s holds a %s; a %s value does not fit", n, side, f.Name, f.Type, m.Type))
			}
		}
		if qok {
			check("QBO field", qf, dir.Moves(streams.SystemHubSpot))
		}
		if hok {
			check("HubSpot property", hf, dir.Moves(streams.SystemQBO))
		}
	}
	return errors.Join(errs...)
}

// fits reports whether a value of mapping type typ can be written to a
// field of type field: the same kind of value, or any value into text.
func fits(typ, field string) bool {
	norm := func(t string) string {
		switch t {
		case "enum":
			return "string" // an option is checked by the side when written
		case "money":
			return "number" // money is a number with cents rounding
		}
		return t
	}
	return norm(typ) == norm(field) || norm(field) == "string"
}

// Hash is a stable digest of mapped values: the writer stores it with the
// link, and an incoming change whose mapped values hash the same is our own
// write coming back (P18).
func Hash(v Values) string {
	keys := make([]string, 0, len(v))
	for k := range v {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	h := sha256.New()
	for _, k := range keys {
		if v[k] == "" {
			continue // empty and absent are the same value
		}
		fmt.Fprintf(h, "%s\x1f%s\x1e", k, v[k])
	}
	return hex.EncodeToString(h.Sum(nil)[:16])
}

// CustomerDisplayName applies P11 to a contact going to QBO: the primary
// company's name when the rule is on and there is one, else first and last
// name, else the email. QBO refuses ':' tab and newline in display names,
// and more than 500 characters.
func CustomerDisplayName(first, last, company, email string, fromCompany bool) (string, error) {
	name := ""
	switch {
	case fromCompany && strings.TrimSpace(company) != "":
		name = company
	case strings.TrimSpace(first+last) != "":
		name = strings.TrimSpace(strings.TrimSpace(first) + " " + strings.TrimSpace(last))
	default:
		name = email
	}
	name = strings.Join(strings.Fields(displayNameSpaces.Replace(name)), " ")
	if name == "" {
		return "", syncerr.Permanentf(syncerr.CodeValidation, "the contact has no company, name or email to make a QBO display name from")
	}
	if len([]rune(name)) > 500 {
		name = string([]rune(name)[:500])
	}
	return name, nil
}

// displayNameSpaces turns what QBO refuses in a display name into spaces
// (built once: a Replacer builds its tables on first use).
var displayNameSpaces = strings.NewReplacer(":", " ", "\t", " ", "\n", " ", "\r", " ")
