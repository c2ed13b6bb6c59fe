package config

import (
	"reflect"
	"regexp"
	"strings"
)

// baseSecretKeys are redacted in echoed lines whatever the target struct.
var baseSecretKeys = []string{"token", "secret", "password"}

// SecretNames returns the TOML key names of the secrets of v's type (a
// pointer to a config struct): K of every K, K_file and K_env.
func SecretNames(v any) map[string]bool { return secretKeys(reflect.TypeOf(v)) }

// secretKeys returns the TOML key names of every Secret field reachable
// from t (through structs, pointers, maps and slices), plus baseSecretKeys.
func secretKeys(t reflect.Type) map[string]bool {
	keys := map[string]bool{}
	for _, k := range baseSecretKeys {
		keys[k] = true
	}
	collectSecretKeys(t, keys, map[reflect.Type]bool{})
	return keys
}

func collectSecretKeys(t reflect.Type, keys map[string]bool, seen map[reflect.Type]bool) {
	for t.Kind() == reflect.Pointer || t.Kind() == reflect.Slice || t.Kind() == reflect.Array || t.Kind() == reflect.Map {
		t = t.Elem()
	}
	if t.Kind() != reflect.Struct || seen[t] {
		return
	}
	seen[t] = true
	for i := 0; i < t.NumField(); i++ {
		sf := t.Field(i)
		if !sf.IsExported() {
			continue
		}
		name := strings.Split(sf.Tag.Get("toml"), ",")[0]
		switch {
		case name == "-":
			continue
		case name == "" && !sf.Anonymous:
			name = strings.ToLower(sf.Name)
		}
		if sf.Type == secretType && name != "" {
			keys[name] = true
			continue
		}
		collectSecretKeys(sf.Type, keys, seen)
	}
}

// assignRe finds "key =" at the start of a line or inside an inline table
// (after "{" or ","); the key may be dotted or quoted.
var assignRe = regexp.MustCompile(`(^|[{,])\s*((?:[A-Za-z0-9_-]+|"[^"]*"|'[^']*')(?:\s*\.\s*(?:[A-Za-z0-9_-]+|"[^"]*"|'[^']*'))*)\s*=`)

// redactLine hides the value of the first assignment to a secret key in
// line (and everything after it: the value may run to the end of the
// line). It reports whether it found one.
func redactLine(line string, secret map[string]bool) (string, bool) {
	for _, m := range assignRe.FindAllStringSubmatchIndex(line, -1) {
		if secret[lastKeyPart(line[m[4]:m[5]])] {
			return line[:m[1]] + " " + Redacted, true
		}
	}
	return line, false
}

// lastKeyPart is the last segment of a dotted TOML key, unquoted.
func lastKeyPart(key string) string {
	parts := splitKey(key)
	return strings.Trim(strings.TrimSpace(parts[len(parts)-1]), `"'`)
}

// splitKey splits a dotted key on the dots outside quotes.
func splitKey(key string) []string {
	var parts []string
	var quote rune
	start := 0
	for i, r := range key {
		switch {
		case quote != 0 && r == quote:
			quote = 0
		case quote == 0 && (r == '"' || r == '\''):
			quote = r
		case quote == 0 && r == '.':
			parts = append(parts, key[start:i])
			start = i + 1
		}
	}
	return append(parts, key[start:])
}

// quotedRe matches a quoted fragment of a parser message that holds a
// letter or digit: a piece of the value.
var quotedRe = regexp.MustCompile(`"[^"]*[A-Za-z0-9][^"]*"|'[^']*[A-Za-z0-9][^']*'`)

// redactMessage hides the quoted pieces of a value in a parser message
// about a secret key ("found \"S\"", "invalid escape '\q'").
func redactMessage(msg string) string { return quotedRe.ReplaceAllString(msg, Redacted) }
