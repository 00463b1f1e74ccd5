// Package sqlsem derives the database semantic-convention attributes of a
// SQL statement: the text with every literal value replaced by "?"
// (db.query.text), the operation (db.operation.name), the one table it
// touches (db.collection.name) and the summary that names the span
// (db.query.summary, such as "SELECT users").
package sqlsem

import (
	"strings"
	"sync"
	"unicode/utf8"

	"go.opentelemetry.io/otel/attribute"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
)

// Query is what a statement tells about itself.
type Query struct {
	Text       string // literals replaced by "?", comments removed, spaces collapsed
	Operation  string // first keyword, upper case ("SELECT"); empty if none
	Collection string // the table, when the statement names exactly one
	Summary    string // "{Operation} {Collection}", or Operation alone
}

// Attributes returns db.query.text, db.operation.name, db.collection.name and
// db.query.summary (the empty ones left out).
func (q Query) Attributes() []attribute.KeyValue {
	return q.AppendAttributes(make([]attribute.KeyValue, 0, 4))
}

// AppendAttributes appends [Query.Attributes] to attrs.
func (q Query) AppendAttributes(attrs []attribute.KeyValue) []attribute.KeyValue {
	if q.Text != "" {
		attrs = append(attrs, semconv.DBQueryText(q.Text))
	}
	if q.Operation != "" {
		attrs = append(attrs, semconv.DBOperationName(q.Operation))
	}
	if q.Collection != "" {
		attrs = append(attrs, semconv.DBCollectionName(q.Collection))
	}
	if q.Summary != "" {
		attrs = append(attrs, semconv.DBQuerySummary(q.Summary))
	}
	return attrs
}

// Parser parses statements and caches the results of the most recent ones
// (statements repeat; parsing them once keeps the cost off the hot path).
type Parser struct {
	// DoubleQuotedStrings treats "…" as a string literal (MySQL) instead of
	// an identifier (standard SQL, PostgreSQL, SQLite).
	DoubleQuotedStrings bool

	mu    sync.RWMutex
	cache map[string]Query
}

const (
	maxCached    = 512
	maxCachedLen = 4096
)

// Parse returns what q tells about itself.
func (p *Parser) Parse(q string) Query {
	if len(q) <= maxCachedLen {
		p.mu.RLock()
		r, ok := p.cache[q]
		p.mu.RUnlock()
		if ok {
			return r
		}
	}
	r := parse(q, p.DoubleQuotedStrings)
	if len(q) <= maxCachedLen {
		p.mu.Lock()
		if p.cache == nil {
			p.cache = make(map[string]Query)
		}
		if len(p.cache) >= maxCached {
			clear(p.cache) // simple bound; the working set refills it
		}
		p.cache[q] = r
		p.mu.Unlock()
	}
	return r
}

func parse(q string, dq bool) Query {
	text, words := sanitize(q, dq)
	r := Query{Text: text}
	if len(words) == 0 {
		return r
	}
	r.Operation = strings.ToUpper(words[0])
	r.Collection = collection(words)
	r.Summary = r.Operation
	if r.Collection != "" {
		r.Summary += " " + r.Collection
	}
	return r
}

// collection returns the table named after FROM, JOIN, INTO, UPDATE, TABLE
// or TRUNCATE when the statement names exactly one.
func collection(words []string) string {
	name := ""
	for i := 0; i < len(words)-1; i++ {
		switch strings.ToUpper(words[i]) {
		case "FROM", "JOIN", "INTO", "UPDATE", "TABLE", "TRUNCATE":
		default:
			continue
		}
		j := i + 1
		for j < len(words) {
			switch strings.ToUpper(words[j]) {
			case "ONLY", "IF", "NOT", "EXISTS", "LATERAL", "TABLE":
				j++
				continue
			}
			break
		}
		if j >= len(words) || words[j] == "(" || isKeyword(words[j]) {
			continue
		}
		if name != "" && name != words[j] {
			return "" // several tables: none is "the" collection
		}
		name = words[j]
	}
	return name
}

func isKeyword(w string) bool {
	switch strings.ToUpper(w) {
	case "SELECT", "VALUES", "SET", "WHERE", "DEFAULT", "WITH":
		return true
	}
	return false
}

func isIdentStart(c byte) bool {
	return c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c >= utf8.RuneSelf
}

func isIdentChar(c byte) bool { return isIdentStart(c) || (c >= '0' && c <= '9') || c == '$' }

// sanitize copies q with literals replaced by "?", comments dropped and
// whitespace collapsed, and returns its words (identifiers, keywords, "(").
func sanitize(q string, dq bool) (string, []string) {
	var b strings.Builder
	b.Grow(len(q))
	var words []string
	space := false
	emit := func(s string) {
		if space && b.Len() > 0 {
			b.WriteByte(' ')
		}
		space = false
		b.WriteString(s)
	}
	for i := 0; i < len(q); {
		c := q[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f':
			space = true
			i++
		case c == '-' && i+1 < len(q) && q[i+1] == '-': // line comment
			for i < len(q) && q[i] != '\n' {
				i++
			}
			space = true
		case c == '/' && i+1 < len(q) && q[i+1] == '*': // block comment, nested in PostgreSQL
			depth := 0
			for i < len(q) {
				if q[i] == '/' && i+1 < len(q) && q[i+1] == '*' {
					depth++
					i += 2
				} else if q[i] == '*' && i+1 < len(q) && q[i+1] == '/' {
					depth--
					i += 2
					if depth == 0 {
						break
					}
				} else {
					i++
				}
			}
			space = true
		case c == '\'':
			i = skipQuoted(q, i, '\'', false)
			emit("?")
		case c == '"' && dq:
			i = skipQuoted(q, i, '"', true)
			emit("?")
		case c == '"' || c == '`': // quoted identifier
			j := skipQuoted(q, i, c, false)
			emit(q[i:j])
			words = append(words, q[i:j])
			i = j
		case c == '$' && i+1 < len(q) && q[i+1] >= '0' && q[i+1] <= '9': // $1 placeholder
			j := i + 1
			for j < len(q) && q[j] >= '0' && q[j] <= '9' {
				j++
			}
			emit(q[i:j])
			i = j
		case c == '$': // dollar-quoted string $tag$…$tag$
			j := i + 1
			for j < len(q) && q[j] != '$' && isIdentChar(q[j]) {
				j++
			}
			if j < len(q) && q[j] == '$' {
				tag := q[i : j+1]
				end := strings.Index(q[j+1:], tag)
				if end < 0 {
					i = len(q)
				} else {
					i = j + 1 + end + len(tag)
				}
				emit("?")
			} else {
				emit("$")
				i++
			}
		case c >= '0' && c <= '9' || (c == '.' && i+1 < len(q) && q[i+1] >= '0' && q[i+1] <= '9'):
			i = skipNumber(q, i)
			emit("?")
		case isIdentStart(c):
			j := i
			for j < len(q) && isIdentChar(q[j]) {
				j++
			}
			// E'…', B'…', X'…', N'…' and U&'…' prefix a string: one literal.
			if j < len(q) && q[j] == '\'' && j-i == 1 && strings.ContainsRune("EeBbXxNn", rune(q[i])) {
				i = skipQuoted(q, j, '\'', q[i] == 'E' || q[i] == 'e')
				emit("?")
				continue
			}
			if j+1 < len(q) && q[j] == '&' && q[j+1] == '\'' && j-i == 1 && (q[i] == 'U' || q[i] == 'u') {
				i = skipQuoted(q, j+1, '\'', false)
				emit("?")
				continue
			}
			// schema.table stays one word
			for j+1 < len(q) && q[j] == '.' && (isIdentStart(q[j+1]) || q[j+1] == '"') {
				if q[j+1] == '"' {
					j = skipQuoted(q, j+1, '"', false)
				} else {
					j++
					for j < len(q) && isIdentChar(q[j]) {
						j++
					}
				}
			}
			emit(q[i:j])
			words = append(words, q[i:j])
			i = j
		default:
			if c == '(' {
				words = append(words, "(")
			}
			emit(string(c))
			i++
		}
	}
	return b.String(), words
}

// skipQuoted returns the index after the quoted text starting at q[i]; a
// doubled quote stays inside, as does a backslash escape when backslash.
func skipQuoted(q string, i int, quote byte, backslash bool) int {
	i++
	for i < len(q) {
		switch {
		case backslash && q[i] == '\\':
			i += 2
		case q[i] == quote && i+1 < len(q) && q[i+1] == quote:
			i += 2
		case q[i] == quote:
			return i + 1
		default:
			i++
		}
	}
	return len(q)
}

// skipNumber returns the index after the numeric literal at q[i]: digits,
// a fraction, an exponent, or a 0x/0o/0b prefixed integer.
func skipNumber(q string, i int) int {
	if q[i] == '0' && i+1 < len(q) && strings.ContainsRune("xXoObB", rune(q[i+1])) {
		i += 2
		for i < len(q) && (isIdentChar(q[i])) {
			i++
		}
		return i
	}
	for i < len(q) && (q[i] >= '0' && q[i] <= '9' || q[i] == '.' || q[i] == '_') {
		i++
	}
	if i < len(q) && (q[i] == 'e' || q[i] == 'E') {
		j := i + 1
		if j < len(q) && (q[j] == '+' || q[j] == '-') {
			j++
		}
		if j < len(q) && q[j] >= '0' && q[j] <= '9' {
			i = j
			for i < len(q) && q[i] >= '0' && q[i] <= '9' {
				i++
			}
		}
	}
	return i
}
