package filter

import (
	"fmt"
	"sort"
	"strings"
)

// The text form of a filter, for the setup page: one condition per line,
// "<property> <op> <value> | <value> ...", and a line "or" between groups.
// Lines starting with # are comments. It reads back to the same filter.
//
//	hs_sku has_property
//	or
//	createdate gte 2026-11-27

// Format writes f in the text form.
func Format(f Filter) string {
	var b strings.Builder
	for i, g := range f.Groups {
		if i > 0 {
			b.WriteString("or\n")
		}
		for _, c := range g.Conditions {
			b.WriteString(c.Property + " " + string(c.Op))
			if len(c.Values) > 0 {
				b.WriteString(" " + strings.Join(c.Values, " | "))
			}
			b.WriteString("\n")
		}
	}
	return b.String()
}

// Parse reads the text form; errors name the line.
func Parse(text string) (Filter, error) {
	var f Filter
	var cur Group
	var problems []string
	for n, line := range strings.Split(strings.ReplaceAll(text, "\r\n", "\n"), "\n") {
		line = strings.TrimSpace(line)
		switch {
		case line == "" || strings.HasPrefix(line, "#"):
			continue
		case strings.EqualFold(line, "or"):
			if len(cur.Conditions) > 0 {
				f.Groups = append(f.Groups, cur)
			}
			cur = Group{}
			continue
		}
		fields := strings.SplitN(line, " ", 3)
		if len(fields) < 2 {
			problems = append(problems, fmt.Sprintf("line %d: want <property> <operator> [values], got %q", n+1, line))
			continue
		}
		c := Condition{Property: fields[0], Op: Op(strings.ToLower(fields[1]))}
		if !ops[c.Op] {
			problems = append(problems, fmt.Sprintf("line %d: operator %q: want one of %s", n+1, fields[1], opList()))
			continue
		}
		if len(fields) == 3 {
			for _, v := range strings.Split(fields[2], "|") {
				if v = strings.TrimSpace(v); v != "" {
					c.Values = append(c.Values, v)
				}
			}
		}
		cur.Conditions = append(cur.Conditions, c)
	}
	if len(cur.Conditions) > 0 {
		f.Groups = append(f.Groups, cur)
	}
	if len(problems) > 0 {
		return Filter{}, fmt.Errorf("%s", strings.Join(problems, "; "))
	}
	return f, f.Validate()
}

func opList() string {
	var names []string
	for op := range ops {
		names = append(names, string(op))
	}
	sort.Strings(names)
	return strings.Join(names, ", ")
}
