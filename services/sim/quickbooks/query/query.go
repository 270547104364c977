// Package query parses the QuickBooks Online query language, the small SQL
// subset accepted by GET/POST /v3/company/{realmId}/query:
//
//	SELECT * | COUNT(*) | field[, field...] FROM Entity
//	  [WHERE cond [AND cond]...]
//	  [ORDERBY field [ASC|DESC][, ...]]
//	  [STARTPOSITION n] [MAXRESULTS n]
//
//	cond := field (= | < | > | <= | >=) value
//	      | field IN (value[, value...])
//	      | field LIKE 'string with % wildcards'
//
// Keywords and entity names are case-insensitive. Strings use single quotes
// with a backslash escaping a quote. There is no OR, NOT, parentheses
// grouping or !=, like the real service. The parser is a hand-written lexer
// plus recursive descent; errors carry the column of the offending token.
package query

import (
	"fmt"
	"strconv"
	"strings"
)

// DefaultMaxResults is the page size QBO uses when MAXRESULTS is absent.
const DefaultMaxResults = 100

// Op is a comparison operator in a WHERE condition.
type Op string

// Operators supported by QBO queries.
const (
	OpEq   Op = "="
	OpLt   Op = "<"
	OpGt   Op = ">"
	OpLe   Op = "<="
	OpGe   Op = ">="
	OpIn   Op = "IN"
	OpLike Op = "LIKE"
)

// ValueKind is the literal type of a Value.
type ValueKind int

// Literal kinds.
const (
	String ValueKind = iota + 1
	Number
	Bool
)

// Value is a literal on the right-hand side of a condition.
type Value struct {
	Kind ValueKind
	Str  string  // String: unescaped text; Number: the literal text
	Num  float64 // Number
	Bool bool    // Bool
}

// String renders the value as query source.
func (v Value) String() string {
	switch v.Kind {
	case String:
		return "'" + strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(v.Str) + "'"
	case Number:
		return v.Str
	case Bool:
		return strconv.FormatBool(v.Bool)
	}
	return "?"
}

// Cond is one WHERE condition. Values has one element except for IN.
type Cond struct {
	Field  string
	Op     Op
	Values []Value
}

// Order is one ORDERBY term.
type Order struct {
	Field string
	Desc  bool
}

// Query is a parsed statement.
type Query struct {
	Count    bool     // SELECT COUNT(*)
	Fields   []string // nil for SELECT *
	Entity   string   // as written
	Where    []Cond
	OrderBy  []Order
	Start    int // 1-based STARTPOSITION, default 1
	Max      int // MAXRESULTS, default DefaultMaxResults
	MaxGiven bool
}

// String renders the query in canonical form; parsing the result yields an
// equal Query.
func (q *Query) String() string {
	var b strings.Builder
	b.WriteString("SELECT ")
	switch {
	case q.Count:
		b.WriteString("COUNT(*)")
	case q.Fields == nil:
		b.WriteString("*")
	default:
		b.WriteString(strings.Join(q.Fields, ", "))
	}
	b.WriteString(" FROM ")
	b.WriteString(q.Entity)
	for i, c := range q.Where {
		if i == 0 {
			b.WriteString(" WHERE ")
		} else {
			b.WriteString(" AND ")
		}
		b.WriteString(c.Field)
		b.WriteString(" ")
		b.WriteString(string(c.Op))
		b.WriteString(" ")
		if c.Op == OpIn {
			parts := make([]string, len(c.Values))
			for j, v := range c.Values {
				parts[j] = v.String()
			}
			b.WriteString("(" + strings.Join(parts, ", ") + ")")
		} else {
			b.WriteString(c.Values[0].String())
		}
	}
	for i, o := range q.OrderBy {
		if i == 0 {
			b.WriteString(" ORDERBY ")
		} else {
			b.WriteString(", ")
		}
		b.WriteString(o.Field)
		if o.Desc {
			b.WriteString(" DESC")
		}
	}
	if q.Start != 1 {
		fmt.Fprintf(&b, " STARTPOSITION %d", q.Start)
	}
	if q.MaxGiven {
		fmt.Fprintf(&b, " MAXRESULTS %d", q.Max)
	}
	return b.String()
}

// Error is a syntax error. Error() returns text shaped like QBO's
// QueryParserError detail.
type Error struct {
	Column   int    // 1-based column of the offending token
	Found    string // the offending token text ("<EOF>" at the end)
	Expected string // what the parser wanted
}

func (e *Error) Error() string {
	return fmt.Sprintf("QueryParserError: Encountered \" %s \" at line 1, column %d.\nWas expecting: %s", e.Found, e.Column, e.Expected)
}

type tokKind int

const (
	tEOF tokKind = iota
	tIdent
	tString
	tNumber
	tStar
	tLParen
	tRParen
	tComma
	tOp
	tIllegal
)

type token struct {
	kind tokKind
	text string // raw text (unescaped for strings)
	pos  int    // 0-based byte offset
}

func (t token) display() string {
	switch t.kind {
	case tEOF:
		return "<EOF>"
	case tString:
		return "'" + t.text + "'"
	}
	return t.text
}

// lex splits the statement into tokens.
func lex(src string) ([]token, *Error) {
	var toks []token
	i := 0
	for i < len(src) {
		c := src[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			i++
		case isIdentStart(c):
			j := i + 1
			for j < len(src) && isIdentPart(src[j]) {
				j++
			}
			toks = append(toks, token{tIdent, src[i:j], i})
			i = j
		case c >= '0' && c <= '9' || (c == '-' || c == '.') && i+1 < len(src) && src[i+1] >= '0' && src[i+1] <= '9':
			j := i + 1
			dot := c == '.'
			for j < len(src) && (src[j] >= '0' && src[j] <= '9' || src[j] == '.' && !dot) {
				if src[j] == '.' {
					dot = true
				}
				j++
			}
			toks = append(toks, token{tNumber, src[i:j], i})
			i = j
		case c == '\'':
			var b strings.Builder
			j := i + 1
			closed := false
			for j < len(src) {
				if src[j] == '\\' && j+1 < len(src) {
					b.WriteByte(src[j+1])
					j += 2
					continue
				}
				if src[j] == '\'' {
					closed = true
					j++
					break
				}
				b.WriteByte(src[j])
				j++
			}
			if !closed {
				return nil, &Error{Column: i + 1, Found: "<unterminated string>", Expected: "a closing quote"}
			}
			toks = append(toks, token{tString, b.String(), i})
			i = j
		case c == '*':
			toks = append(toks, token{tStar, "*", i})
			i++
		case c == '(':
			toks = append(toks, token{tLParen, "(", i})
			i++
		case c == ')':
			toks = append(toks, token{tRParen, ")", i})
			i++
		case c == ',':
			toks = append(toks, token{tComma, ",", i})
			i++
		case c == '=':
			toks = append(toks, token{tOp, "=", i})
			i++
		case c == '<' || c == '>' || c == '!':
			if i+1 < len(src) && (src[i+1] == '=' || c == '<' && src[i+1] == '>') {
				toks = append(toks, token{tOp, src[i : i+2], i})
				i += 2
			} else {
				toks = append(toks, token{tOp, src[i : i+1], i})
				i++
			}
		default:
			// Take the whole UTF-8 sequence so the message shows a readable character.
			j := i + 1
			for j < len(src) && src[j]&0xC0 == 0x80 {
				j++
			}
			return nil, &Error{Column: i + 1, Found: src[i:j], Expected: "a keyword, field, value or operator"}
		}
	}
	toks = append(toks, token{tEOF, "", len(src)})
	return toks, nil
}

func isIdentStart(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '_'
}

func isIdentPart(c byte) bool {
	return isIdentStart(c) || c >= '0' && c <= '9' || c == '.'
}

type parser struct {
	toks []token
	i    int
}

func (p *parser) peek() token { return p.toks[p.i] }

func (p *parser) next() token {
	t := p.toks[p.i]
	if t.kind != tEOF {
		p.i++
	}
	return t
}

func (p *parser) fail(t token, expected string) *Error {
	return &Error{Column: t.pos + 1, Found: t.display(), Expected: expected}
}

func (p *parser) isKeyword(t token, kw string) bool {
	return t.kind == tIdent && strings.EqualFold(t.text, kw)
}

func (p *parser) expectKeyword(kw string) *Error {
	t := p.next()
	if !p.isKeyword(t, kw) {
		return p.fail(t, `"`+kw+`"`)
	}
	return nil
}

var reserved = map[string]bool{
	"SELECT": true, "FROM": true, "WHERE": true, "AND": true, "OR": true, "NOT": true,
	"IN": true, "LIKE": true, "ORDERBY": true, "ORDER": true, "BY": true, "ASC": true, "DESC": true,
	"STARTPOSITION": true, "MAXRESULTS": true, "COUNT": true, "TRUE": true, "FALSE": true,
}

func (p *parser) field() (string, *Error) {
	t := p.next()
	if t.kind != tIdent || reserved[strings.ToUpper(t.text)] || strings.HasSuffix(t.text, ".") || strings.Contains(t.text, "..") {
		return "", p.fail(t, "a field name")
	}
	return t.text, nil
}

// Parse parses one statement. The returned error is always an *Error.
func Parse(src string) (*Query, error) {
	toks, lerr := lex(src)
	if lerr != nil {
		return nil, lerr
	}
	p := &parser{toks: toks}
	q, err := p.parse()
	if err != nil {
		return nil, err
	}
	return q, nil
}

func (p *parser) parse() (*Query, *Error) {
	q := &Query{Start: 1, Max: DefaultMaxResults}
	if err := p.expectKeyword("SELECT"); err != nil {
		return nil, err
	}
	t := p.peek()
	switch {
	case t.kind == tStar:
		p.next()
	case p.isKeyword(t, "COUNT"):
		p.next()
		if tk := p.next(); tk.kind != tLParen {
			return nil, p.fail(tk, `"("`)
		}
		if tk := p.next(); tk.kind != tStar {
			return nil, p.fail(tk, `"*"`)
		}
		if tk := p.next(); tk.kind != tRParen {
			return nil, p.fail(tk, `")"`)
		}
		q.Count = true
	default:
		for {
			f, err := p.field()
			if err != nil {
				err.Expected = `"*", "count(*)" or a field name`
				return nil, err
			}
			q.Fields = append(q.Fields, f)
			if p.peek().kind != tComma {
				break
			}
			p.next()
		}
	}
	if err := p.expectKeyword("FROM"); err != nil {
		return nil, err
	}
	et := p.next()
	if et.kind != tIdent || reserved[strings.ToUpper(et.text)] || strings.Contains(et.text, ".") {
		return nil, p.fail(et, "an entity name")
	}
	q.Entity = et.text

	if p.isKeyword(p.peek(), "WHERE") {
		p.next()
		for {
			c, err := p.cond()
			if err != nil {
				return nil, err
			}
			q.Where = append(q.Where, c)
			if !p.isKeyword(p.peek(), "AND") {
				break
			}
			p.next()
		}
	}

	if t := p.peek(); p.isKeyword(t, "ORDERBY") || p.isKeyword(t, "ORDER") {
		p.next()
		if p.isKeyword(t, "ORDER") {
			if err := p.expectKeyword("BY"); err != nil {
				return nil, err
			}
		}
		for {
			f, err := p.field()
			if err != nil {
				return nil, err
			}
			o := Order{Field: f}
			if t := p.peek(); p.isKeyword(t, "DESC") {
				p.next()
				o.Desc = true
			} else if p.isKeyword(t, "ASC") {
				p.next()
			}
			q.OrderBy = append(q.OrderBy, o)
			if p.peek().kind != tComma {
				break
			}
			p.next()
		}
	}

	seenStart, seenMax := false, false
	for {
		t := p.peek()
		switch {
		case p.isKeyword(t, "STARTPOSITION") && !seenStart:
			p.next()
			n, err := p.positiveInt()
			if err != nil {
				return nil, err
			}
			q.Start, seenStart = n, true
		case p.isKeyword(t, "MAXRESULTS") && !seenMax:
			p.next()
			n, err := p.positiveInt()
			if err != nil {
				return nil, err
			}
			q.Max, q.MaxGiven, seenMax = n, true, true
		case t.kind == tEOF:
			return q, nil
		default:
			return nil, p.fail(t, `"AND", "ORDERBY", "STARTPOSITION", "MAXRESULTS" or the end of the query`)
		}
	}
}

func (p *parser) positiveInt() (int, *Error) {
	t := p.next()
	if t.kind != tNumber {
		return 0, p.fail(t, "a positive integer")
	}
	n, err := strconv.Atoi(t.text)
	if err != nil || n < 1 || n > 1<<30 {
		return 0, p.fail(t, "a positive integer")
	}
	return n, nil
}

func (p *parser) cond() (Cond, *Error) {
	f, err := p.field()
	if err != nil {
		return Cond{}, err
	}
	c := Cond{Field: f}
	t := p.next()
	switch {
	case t.kind == tOp:
		switch t.text {
		case "=", "<", ">", "<=", ">=":
			c.Op = Op(t.text)
		default:
			return Cond{}, p.fail(t, `"=", "<", ">", "<=", ">=", "IN" or "LIKE"`)
		}
		v, err := p.value()
		if err != nil {
			return Cond{}, err
		}
		c.Values = []Value{v}
	case p.isKeyword(t, "IN"):
		c.Op = OpIn
		if tk := p.next(); tk.kind != tLParen {
			return Cond{}, p.fail(tk, `"("`)
		}
		for {
			v, err := p.value()
			if err != nil {
				return Cond{}, err
			}
			c.Values = append(c.Values, v)
			tk := p.next()
			if tk.kind == tRParen {
				break
			}
			if tk.kind != tComma {
				return Cond{}, p.fail(tk, `"," or ")"`)
			}
		}
	case p.isKeyword(t, "LIKE"):
		c.Op = OpLike
		vt := p.next()
		if vt.kind != tString {
			return Cond{}, p.fail(vt, "a quoted string")
		}
		c.Values = []Value{{Kind: String, Str: vt.text}}
	default:
		return Cond{}, p.fail(t, `"=", "<", ">", "<=", ">=", "IN" or "LIKE"`)
	}
	return c, nil
}

func (p *parser) value() (Value, *Error) {
	t := p.next()
	switch {
	case t.kind == tString:
		return Value{Kind: String, Str: t.text}, nil
	case t.kind == tNumber:
		n, err := strconv.ParseFloat(t.text, 64)
		if err != nil {
			return Value{}, p.fail(t, "a number")
		}
		return Value{Kind: Number, Str: t.text, Num: n}, nil
	case p.isKeyword(t, "TRUE"):
		return Value{Kind: Bool, Bool: true}, nil
	case p.isKeyword(t, "FALSE"):
		return Value{Kind: Bool, Bool: false}, nil
	}
	return Value{}, p.fail(t, "a quoted string, a number, true or false")
}

// Like reports whether s matches a LIKE pattern where % matches any run of
// characters. Matching is case-insensitive, as in QBO.
func Like(s, pattern string) bool {
	s, pattern = strings.ToLower(s), strings.ToLower(pattern)
	parts := strings.Split(pattern, "%")
	if len(parts) == 1 {
		return s == pattern
	}
	if !strings.HasPrefix(s, parts[0]) {
		return false
	}
	s = s[len(parts[0]):]
	last := parts[len(parts)-1]
	for _, mid := range parts[1 : len(parts)-1] {
		idx := strings.Index(s, mid)
		if idx < 0 {
			return false
		}
		s = s[idx+len(mid):]
	}
	return len(s) >= len(last) && strings.HasSuffix(s, last)
}
