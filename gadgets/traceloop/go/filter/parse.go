// Package filter turns the value of traceloop's --syscall-filters parameter into syscall
// numbers: it splits the value into names (Parse) and resolves each name on the running kernel's
// architecture (Resolver), with "did you mean" suggestions for misspelt names. It has no
// dependencies, so it runs inside the gadget's WASM module and in native unit tests alike.
package filter

import (
	"fmt"
	"strings"
	"unicode"
)

// Parse splits a comma-separated list of syscall names. Spaces around names are ignored; a
// value in double or single quotes is taken literally, commas and spaces included ("a,b",c gives
// a,b and c; inside double quotes \" is a quote and \\ a backslash); empty items are skipped;
// names are lower-cased and duplicates collapse, keeping the first occurrence's position. An
// empty value gives no names (and no error): the caller records every syscall. An unterminated
// quote is an error.
func Parse(value string) ([]string, error) {
	var (
		names  []string
		seen   = map[string]bool{}
		cur    []rune
		quoted []bool // quoted[i]: cur[i] came from inside quotes (never trimmed)
		quote  rune   // the open quote, 0 outside quotes
		qstart int    // byte offset of the open quote, for the error
	)
	flush := func() {
		start, end := 0, len(cur)
		for start < end && !quoted[start] && unicode.IsSpace(cur[start]) {
			start++
		}
		for end > start && !quoted[end-1] && unicode.IsSpace(cur[end-1]) {
			end--
		}
		name := strings.ToLower(string(cur[start:end]))
		cur, quoted = cur[:0], quoted[:0]
		if name == "" || seen[name] {
			return
		}
		seen[name] = true
		names = append(names, name)
	}
	runes := []rune(value)
	for i := 0; i < len(runes); i++ {
		r := runes[i]
		switch {
		case quote == 0 && (r == '"' || r == '\''):
			quote, qstart = r, len(string(runes[:i]))
		case quote == 0 && r == ',':
			flush()
		case quote == 0:
			cur, quoted = append(cur, r), append(quoted, false)
		case r == quote:
			quote = 0
		case quote == '"' && r == '\\' && i+1 < len(runes):
			i++
			cur, quoted = append(cur, runes[i]), append(quoted, true)
		default:
			cur, quoted = append(cur, r), append(quoted, true)
		}
	}
	if quote != 0 {
		return nil, fmt.Errorf("syscall-filters %q: the quote %c at offset %d is never closed: close it or remove it",
			value, quote, qstart)
	}
	flush()
	return names, nil
}
