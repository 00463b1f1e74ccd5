package sqlsem

import (
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	for _, tc := range []struct {
		in, text, op, coll string
	}{
		{"SELECT name FROM users WHERE id = 42", "SELECT name FROM users WHERE id = ?", "SELECT", "users"},
		{"select * from public.users u where u.email = 'alice@example.com' and u.age > 3.5e2",
			"select * from public.users u where u.email = ? and u.age > ?", "SELECT", "public.users"},
		{"INSERT INTO orders (id, note) VALUES ($1, 'it''s ok'), (2, E'a\\'b')",
			"INSERT INTO orders (id, note) VALUES ($1, ?), (?, ?)", "INSERT", "orders"},
		{"UPDATE  accounts\n SET balance = balance - 100.25 WHERE id = $2 -- secret 123\n",
			"UPDATE accounts SET balance = balance - ? WHERE id = $2", "UPDATE", "accounts"},
		{"DELETE FROM \"Sessions\" WHERE token = $tok$s3cr3t$tok$ /* by 555 */",
			"DELETE FROM \"Sessions\" WHERE token = ?", "DELETE", "\"Sessions\""},
		{"SELECT a.id FROM a JOIN b ON a.id = b.a_id WHERE b.x = 'y'",
			"SELECT a.id FROM a JOIN b ON a.id = b.a_id WHERE b.x = ?", "SELECT", ""},
		{"select count(*) from (select 1 from t1) s", "select count(*) from (select ? from t1) s", "SELECT", "t1"},
		{"CREATE TABLE IF NOT EXISTS items (id int)", "CREATE TABLE IF NOT EXISTS items (id int)", "CREATE", "items"},
		{"SELECT $$dollar 999$$, X'1F', U&'d\\0061t', 0x1F, t2.c9 FROM t2",
			"SELECT ?, ?, ?, ?, t2.c9 FROM t2", "SELECT", "t2"},
		{"BEGIN", "BEGIN", "BEGIN", ""},
		{"", "", "", ""},
	} {
		var p Parser
		got := p.Parse(tc.in)
		if got.Text != tc.text || got.Operation != tc.op || got.Collection != tc.coll {
			t.Errorf("Parse(%q)\n got %q %q %q\nwant %q %q %q", tc.in, got.Text, got.Operation, got.Collection, tc.text, tc.op, tc.coll)
		}
		wantSummary := strings.TrimSpace(tc.op + " " + tc.coll)
		if got.Summary != wantSummary {
			t.Errorf("summary %q, want %q", got.Summary, wantSummary)
		}
	}
}

func TestNoLiteralSurvives(t *testing.T) {
	secrets := []string{"alice@example.com", "4111111111111111", "s3cr3t", "O'Brien", "3.14159"}
	queries := []string{
		"SELECT * FROM u WHERE e = 'alice@example.com'",
		"SELECT * FROM u WHERE card = 4111111111111111",
		"SELECT * FROM u WHERE p = $x$s3cr3t$x$",
		"SELECT * FROM u WHERE n = 'O''Brien'",
		"SELECT * FROM u WHERE n = E'O\\'Brien'",
		"SELECT 3.14159",
		"SELECT * FROM u WHERE e = 'unterminated alice@example.com",
	}
	var p Parser
	for _, q := range queries {
		got := p.Parse(q)
		for _, s := range secrets {
			if strings.Contains(got.Text, s) || strings.Contains(got.Summary, s) {
				t.Errorf("%q leaks %q: %q", q, s, got.Text)
			}
		}
	}
	mysql := Parser{DoubleQuotedStrings: true}
	if got := mysql.Parse(`SELECT * FROM u WHERE e = "alice@example.com"`); strings.Contains(got.Text, "alice") {
		t.Errorf("double-quoted string leaked: %q", got.Text)
	}
}

func TestCacheBounded(t *testing.T) {
	var p Parser
	for i := range 3 * maxCached {
		p.Parse("SELECT " + strings.Repeat("x", i%50) + " FROM t" + string(rune('a'+i%26)) + strings.Repeat(" ", i))
	}
	if n := len(p.cache); n > maxCached {
		t.Fatalf("cache holds %d entries", n)
	}
}

func FuzzSanitize(f *testing.F) {
	f.Add("SELECT 'a' FROM t WHERE x = 1")
	f.Add("$a$ unterminated")
	f.Add("/* nested /* c */ */ E'\\")
	f.Fuzz(func(t *testing.T, q string) {
		var p Parser
		got := p.Parse(q) // must not panic or loop
		if len(got.Text) > 2*len(q)+1 {
			t.Fatalf("text grew: %d from %d", len(got.Text), len(q))
		}
	})
}
