package query

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	tests := []struct {
		name string
		src  string
		want *Query
	}{
		{
			name: "select star lowercase like node-quickbooks",
			src:  "select * from customer where DisplayName = 'Ada' startposition 1 maxresults 1000",
			want: &Query{Entity: "customer", Where: []Cond{{Field: "DisplayName", Op: OpEq, Values: []Value{{Kind: String, Str: "Ada"}}}}, Start: 1, Max: 1000, MaxGiven: true},
		},
		{
			name: "count",
			src:  "SELECT COUNT(*) FROM Invoice",
			want: &Query{Count: true, Entity: "Invoice", Start: 1, Max: DefaultMaxResults},
		},
		{
			name: "field list, IN, LIKE, numbers, booleans, orderby",
			src:  `SELECT Id, DisplayName FROM Customer WHERE Active IN (true, false) AND DisplayName LIKE 'O\'Br%' AND Balance >= 10.5 ORDERBY DisplayName DESC, Id ASC STARTPOSITION 11 MAXRESULTS 5`,
			want: &Query{
				Fields: []string{"Id", "DisplayName"}, Entity: "Customer",
				Where: []Cond{
					{Field: "Active", Op: OpIn, Values: []Value{{Kind: Bool, Bool: true}, {Kind: Bool, Bool: false}}},
					{Field: "DisplayName", Op: OpLike, Values: []Value{{Kind: String, Str: "O'Br%"}}},
					{Field: "Balance", Op: OpGe, Values: []Value{{Kind: Number, Str: "10.5", Num: 10.5}}},
				},
				OrderBy: []Order{{Field: "DisplayName", Desc: true}, {Field: "Id"}},
				Start:   11, Max: 5, MaxGiven: true,
			},
		},
		{
			name: "dotted field and ORDER BY spelled in two words",
			src:  "select * from Invoice where MetaData.LastUpdatedTime > '2024-01-01T00:00:00-08:00' order by MetaData.LastUpdatedTime",
			want: &Query{Entity: "Invoice", Where: []Cond{{Field: "MetaData.LastUpdatedTime", Op: OpGt, Values: []Value{{Kind: String, Str: "2024-01-01T00:00:00-08:00"}}}},
				OrderBy: []Order{{Field: "MetaData.LastUpdatedTime"}}, Start: 1, Max: DefaultMaxResults},
		},
		{
			name: "maxresults before startposition",
			src:  "select * from Item maxresults 2 startposition 3",
			want: &Query{Entity: "Item", Start: 3, Max: 2, MaxGiven: true},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Parse(tc.src)
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("got %+v\nwant %+v", got, tc.want)
			}
			again, err := Parse(got.String())
			if err != nil || !reflect.DeepEqual(again, got) {
				t.Fatalf("round trip of %q: %+v, %v", got.String(), again, err)
			}
		})
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		src   string
		found string
		col   int
	}{
		{"select * from Customer where A = 'x' OR B = 'y'", "OR", 38},
		{"select * from Customer where A != 'x'", "!=", 32},
		{"select * from Customer where A <> 'x'", "<>", 32},
		{"select * from Customer where (A = 'x')", "(", 30},
		{"select * from Customer where NOT A = 'x'", "NOT", 30},
		{"select * from", "<EOF>", 14},
		{"select from Customer", "from", 8},
		{"delete from Customer", "delete", 1},
		{"select * from Customer where A = 'unterminated", "<unterminated string>", 34},
		{"select * from Customer maxresults 0", "0", 35},
		{"select * from Customer maxresults -5", "-5", 35},
		{"select * from Customer where A LIKE 5", "5", 37},
		{"select * from Customer where A IN ('a' 'b')", "'b'", 40},
		{"select * from Customer;", ";", 23},
		{"select count(Id) from Customer", "Id", 14},
		{"select * from Customer where A = 'x' AND", "<EOF>", 41},
		{"select * from Customer maxresults 5 maxresults 6", "maxresults", 37},
		{"select * from Customer where Bad..Field = 1", "Bad..Field", 30},
	}
	for _, tc := range tests {
		t.Run(tc.src, func(t *testing.T) {
			_, err := Parse(tc.src)
			var pe *Error
			if !errors.As(err, &pe) {
				t.Fatalf("want *Error, got %v", err)
			}
			if pe.Found != tc.found || pe.Column != tc.col {
				t.Fatalf("got found=%q col=%d, want %q col %d (%v)", pe.Found, pe.Column, tc.found, tc.col, err)
			}
			if !strings.HasPrefix(err.Error(), "QueryParserError: Encountered") {
				t.Fatalf("message %q", err.Error())
			}
		})
	}
}

func TestLike(t *testing.T) {
	tests := []struct {
		s, p string
		want bool
	}{
		{"Amy's Bird Sanctuary", "Amy%", true},
		{"Amy's Bird Sanctuary", "%bird%", true},
		{"Amy's Bird Sanctuary", "%Sanctuary", true},
		{"Amy's Bird Sanctuary", "%Sanct", false},
		{"abc", "abc", true},
		{"abc", "ab", false},
		{"aXbXc", "a%b%c", true},
		{"ac", "a%b%c", false},
		{"aa", "a%a", true},
		{"a", "a%a", false},
		{"", "%", true},
	}
	for _, tc := range tests {
		if got := Like(tc.s, tc.p); got != tc.want {
			t.Errorf("Like(%q, %q) = %v, want %v", tc.s, tc.p, got, tc.want)
		}
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{
		"select * from Customer",
		"SELECT COUNT(*) FROM Invoice WHERE Balance > '0'",
		"select Id, DisplayName from Customer where Active IN (true,false) orderby DisplayName desc startposition 2 maxresults 10",
		`select * from Customer where DisplayName LIKE 'O\'Br%'`,
		"select * from Invoice where MetaData.LastUpdatedTime >= '2024-01-01T00:00:00-08:00' AND TotalAmt < 100.25",
		"select * from Customer where A = 'x' OR B = 'y'",
		"select * from Item where Sku = '' maxresults 1000",
		"select * from",
		"'",
		"select * from Customer where Id in ('1','2','3')",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, src string) {
		q, err := Parse(src)
		if err != nil {
			var pe *Error
			if !errors.As(err, &pe) {
				t.Fatalf("error of type %T", err)
			}
			return
		}
		if q.Entity == "" || q.Start < 1 || q.Max < 1 {
			t.Fatalf("invalid query accepted: %+v", q)
		}
		for _, c := range q.Where {
			if len(c.Values) == 0 || c.Op != OpIn && len(c.Values) != 1 {
				t.Fatalf("bad condition %+v", c)
			}
		}
		again, err := Parse(q.String())
		if err != nil {
			t.Fatalf("canonical form %q does not parse: %v", q.String(), err)
		}
		if !reflect.DeepEqual(again, q) {
			t.Fatalf("round trip changed the query:\n%+v\n%+v", q, again)
		}
	})
}
