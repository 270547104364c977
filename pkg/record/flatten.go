package record

import (
	"bytes"
	"fmt"
	"strconv"
	"strings"

	json "github.com/goccy/go-json"

	"github.com/ledgersync/ledgersync/pkg/money"
)

// Flatten turns a JSON object (a QBO entity) into dotted paths with string
// values: {"PrimaryEmailAddr":{"Address":"a@b"}} -> "PrimaryEmailAddr.Address".
// Arrays are left out: the mapped fields of the synced objects are scalars.
func Flatten(obj map[string]any) map[string]string {
	out := map[string]string{}
	var walk func(prefix string, v any)
	walk = func(prefix string, v any) {
		switch x := v.(type) {
		case map[string]any:
			for k, sub := range x {
				p := k
				if prefix != "" {
					p = prefix + "." + k
				}
				walk(p, sub)
			}
		case string:
			out[prefix] = x
		case bool:
			out[prefix] = strconv.FormatBool(x)
		case float64:
			out[prefix] = strconv.FormatFloat(x, 'f', -1, 64)
		case json.Number:
			out[prefix] = x.String()
		case nil, []any:
		default:
			out[prefix] = fmt.Sprint(x)
		}
	}
	walk("", obj)
	return out
}

// FlattenValue flattens any JSON-encodable value (a typed entity). Numbers
// keep their exact decimal text: amounts never pass through float64.
func FlattenValue(v any) (map[string]string, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil {
		return nil, err
	}
	return Flatten(m), nil
}

// Expand is Flatten's inverse for building a write body from mapped fields.
// Values stay strings except "true"/"false" under keys in bools and numbers
// under keys in numbers.
func Expand(fields map[string]string, bools, numbers map[string]bool) map[string]any {
	out := map[string]any{}
	for path, v := range fields {
		parts := strings.Split(path, ".")
		node := out
		for _, p := range parts[:len(parts)-1] {
			next, ok := node[p].(map[string]any)
			if !ok {
				next = map[string]any{}
				node[p] = next
			}
			node = next
		}
		var val any = v
		leaf := parts[len(parts)-1]
		if bools[path] {
			val, _ = strconv.ParseBool(v)
		} else if numbers[path] {
			if _, err := money.Parse(v); err == nil {
				val = json.Number(strings.TrimSpace(v)) // exact: no float64 on the way
			}
		}
		node[leaf] = val
	}
	return out
}
