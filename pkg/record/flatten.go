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
	// The writer flattens every record it writes, twice: reading the
	// marshalled object straight into paths skips building a map of
	// interfaces first. Anything it does not expect takes the decoder.
	out := map[string]string{}
	if rest, ok := flattenObject(b, "", out); ok && len(skipSpace(rest)) == 0 {
		return out, nil
	}
	return flattenDecoded(b)
}

// flattenDecoded is FlattenValue through a generic decode.
func flattenDecoded(b []byte) (map[string]string, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil {
		return nil, err
	}
	return Flatten(m), nil
}

// flattenObject reads the JSON object at the start of b into out as
// Flatten would (scalars by dotted path, arrays and nulls left out) and
// returns what follows it; ok is false for anything else.
func flattenObject(b []byte, prefix string, out map[string]string) ([]byte, bool) {
	b = skipSpace(b)
	if len(b) == 0 || b[0] != '{' {
		return nil, false
	}
	b = skipSpace(b[1:])
	if len(b) > 0 && b[0] == '}' {
		return b[1:], true
	}
	for {
		key, rest, ok := jsonString(b)
		if !ok {
			return nil, false
		}
		b = skipSpace(rest)
		if len(b) == 0 || b[0] != ':' {
			return nil, false
		}
		b = skipSpace(b[1:])
		path := key
		if prefix != "" {
			path = prefix + "." + key
		}
		if len(b) == 0 {
			return nil, false
		}
		switch c := b[0]; {
		case c == '{':
			b, ok = flattenObject(b, path, out)
		case c == '"':
			var s string
			s, b, ok = jsonString(b)
			out[path] = s
		case c == '[':
			b, ok = skipValue(b)
		case c == 't' && bytes.HasPrefix(b, []byte("true")):
			out[path], b = "true", b[4:]
		case c == 'f' && bytes.HasPrefix(b, []byte("false")):
			out[path], b = "false", b[5:]
		case c == 'n' && bytes.HasPrefix(b, []byte("null")):
			delete(out, path) // as the decoder: a later null replaces an earlier value
			b = b[4:]
		case c == '-' || (c >= '0' && c <= '9'):
			n := 1
			for n < len(b) && strings.IndexByte("0123456789+-.eE", b[n]) >= 0 {
				n++
			}
			out[path], b = string(b[:n]), b[n:]
		default:
			return nil, false
		}
		if !ok {
			return nil, false
		}
		b = skipSpace(b)
		if len(b) == 0 {
			return nil, false
		}
		switch b[0] {
		case ',':
			b = skipSpace(b[1:])
		case '}':
			return b[1:], true
		default:
			return nil, false
		}
	}
}

// jsonString reads the JSON string at the start of b.
func jsonString(b []byte) (string, []byte, bool) {
	if len(b) == 0 || b[0] != '"' {
		return "", nil, false
	}
	for i := 1; i < len(b); i++ {
		switch b[i] {
		case '"':
			return string(b[1:i]), b[i+1:], true
		case '\\':
			// Escapes: find the closing quote, let the decoder unquote.
			for j := i; j < len(b); j++ {
				if b[j] == '\\' {
					j++
					continue
				}
				if b[j] == '"' {
					var s string
					if err := json.Unmarshal(b[:j+1], &s); err != nil {
						return "", nil, false
					}
					return s, b[j+1:], true
				}
			}
			return "", nil, false
		}
	}
	return "", nil, false
}

// skipValue skips the array or object at the start of b.
func skipValue(b []byte) ([]byte, bool) {
	depth := 0
	for i := 0; i < len(b); i++ {
		switch b[i] {
		case '"':
			_, rest, ok := jsonString(b[i:])
			if !ok {
				return nil, false
			}
			i = len(b) - len(rest) - 1
		case '[', '{':
			depth++
		case ']', '}':
			depth--
			if depth == 0 {
				return b[i+1:], true
			}
		}
	}
	return nil, false
}

func skipSpace(b []byte) []byte {
	for len(b) > 0 && (b[0] == ' ' || b[0] == '\t' || b[0] == '\n' || b[0] == '\r') {
		b = b[1:]
	}
	return b
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
