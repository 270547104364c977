package quickbooks

import (
	"encoding/xml"
	"net/http"
	"sort"
	"strconv"
	"strings"

	json "github.com/goccy/go-json"
)

// wantsJSON: QBO answers JSON only when asked (Accept: application/json or
// format=json); otherwise XML.
func wantsJSON(r *http.Request) bool {
	switch strings.ToLower(r.URL.Query().Get("format")) {
	case "json":
		return true
	case "xml":
		return false
	}
	return strings.Contains(strings.ToLower(r.Header.Get("Accept")), "application/json")
}

// encodeBody renders an answer envelope as JSON or XML.
func encodeBody(body map[string]any, asJSON bool) (string, []byte) {
	if asJSON {
		// Key order means nothing in JSON: the maps' keys go unsorted.
		b, err := json.MarshalWithOption(body, json.UnorderedMap())
		if err != nil {
			// Unreachable with the values the simulator stores; never send a Go error text.
			b = []byte(`{"Fault":{"Error":[{"Message":"An application error has occurred while processing your request","Detail":"System Failure Error","code":"10000","element":""}],"type":"SystemFault"}}`)
		}
		return "application/json;charset=UTF-8", b
	}
	var sb strings.Builder
	sb.WriteString(`<?xml version="1.0" encoding="UTF-8" standalone="yes"?>`)
	writeXML(&sb, "IntuitResponse", body, `xmlns="http://schema.intuit.com/finance/v3"`)
	return "application/xml;charset=UTF-8", []byte(sb.String())
}

// writeXML renders a JSON-shaped value the way QBO's XML looks: keys that
// start with a lower-case letter (domain, sparse, code, startPosition, ...)
// are attributes, the others child elements; arrays repeat the element.
func writeXML(sb *strings.Builder, name string, v any, extraAttr string) {
	switch x := v.(type) {
	case jsonRow:
		writeXML(sb, name, x.rec.obj, extraAttr)
	case map[string]any:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		sb.WriteString("<" + name)
		if extraAttr != "" {
			sb.WriteString(" " + extraAttr)
		}
		for _, k := range keys {
			if isAttr(k, x[k]) {
				sb.WriteString(" " + k + `="`)
				xmlEscape(sb, scalarText(x[k]))
				sb.WriteString(`"`)
			}
		}
		sb.WriteString(">")
		for _, k := range keys {
			if !isAttr(k, x[k]) {
				writeXML(sb, k, x[k], "")
			}
		}
		sb.WriteString("</" + name + ">")
	case []any:
		for _, e := range x {
			writeXML(sb, name, e, "")
		}
	case nil:
	default:
		sb.WriteString("<" + name + ">")
		xmlEscape(sb, scalarText(x))
		sb.WriteString("</" + name + ">")
	}
}

func isAttr(k string, v any) bool {
	if k == "" || k[0] < 'a' || k[0] > 'z' {
		return false
	}
	switch v.(type) {
	case map[string]any, []any, jsonRow, nil:
		return false
	}
	return true
}

func scalarText(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64)
	case bool:
		return strconv.FormatBool(x)
	case int64:
		return strconv.FormatInt(x, 10)
	case int:
		return strconv.Itoa(x)
	}
	return ""
}

func xmlEscape(sb *strings.Builder, s string) {
	_ = xml.EscapeText(sbWriter{sb}, []byte(s))
}

type sbWriter struct{ sb *strings.Builder }

func (w sbWriter) Write(p []byte) (int, error) { return w.sb.Write(p) }
