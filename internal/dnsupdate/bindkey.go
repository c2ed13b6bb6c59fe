package dnsupdate

import (
	"errors"
	"fmt"
	"strings"

	"github.com/redund/redund/internal/config"
)

// bindKey is one key statement of a BIND key file, as tsig-keygen and
// ddns-confgen write it:
//
//	key "ddns-key" {
//		algorithm hmac-sha256;
//		secret "fcp3r67N9axm2Z/Rf8ZCcwJb5L2lfNNIyf0W1hXrX5Y=";
//	};
type bindKey struct {
	Name, Algorithm, Secret string
}

// looksLikeBINDKey reports whether a secret's text is a key statement rather
// than a bare base64 secret.
func looksLikeBINDKey(s string) bool {
	return strings.HasPrefix(strings.TrimSpace(stripBINDComments(s)), "key")
}

// parseBINDKey reads the one key statement of a BIND key file.
func parseBINDKey(src string) (bindKey, error) {
	toks, err := bindTokens(stripBINDComments(src))
	if err != nil {
		return bindKey{}, err
	}
	var keys []bindKey
	for len(toks) > 0 {
		var k bindKey
		if k, toks, err = parseKeyStatement(toks); err != nil {
			return bindKey{}, err
		}
		keys = append(keys, k)
	}
	switch {
	case len(keys) == 0:
		return bindKey{}, errors.New("no key statement")
	case len(keys) > 1:
		return bindKey{}, fmt.Errorf("%d key statements; give a file with one", len(keys))
	}
	return keys[0], nil
}

func parseKeyStatement(t []string) (bindKey, []string, error) {
	var k bindKey
	if len(t) < 3 || t[0] != "key" || t[2] != "{" {
		return k, nil, errors.New(`expected key "NAME" { ... };`)
	}
	k.Name = unquote(t[1])
	t = t[3:]
	for len(t) > 0 && t[0] != "}" {
		if len(t) < 3 || t[2] != ";" {
			return k, nil, fmt.Errorf("expected %s VALUE; inside key %q", t[0], k.Name)
		}
		switch t[0] {
		case "algorithm":
			k.Algorithm = unquote(t[1])
		case "secret":
			k.Secret = unquote(t[1])
		default:
			return k, nil, fmt.Errorf("unknown clause %q in key %q", t[0], k.Name)
		}
		t = t[3:]
	}
	if len(t) < 2 || t[0] != "}" || t[1] != ";" {
		return k, nil, fmt.Errorf("key %q is not closed with };", k.Name)
	}
	if k.Secret == "" {
		return k, nil, fmt.Errorf("key %q has no secret", k.Name)
	}
	return k, t[2:], nil
}

// bindTokens splits named.conf syntax into words, quoted strings (kept with
// their quotes) and the punctuation { } ;.
func bindTokens(s string) ([]string, error) {
	var out []string
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			i++
		case c == '{' || c == '}' || c == ';':
			out = append(out, string(c))
			i++
		case c == '"':
			j := strings.IndexByte(s[i+1:], '"')
			if j < 0 {
				return nil, errors.New("unterminated quoted string")
			}
			out = append(out, s[i:i+j+2])
			i += j + 2
		default:
			j := i
			for j < len(s) && !strings.ContainsRune(" \t\r\n{};\"", rune(s[j])) {
				j++
			}
			out = append(out, s[i:j])
			i = j
		}
	}
	return out, nil
}

// stripBINDComments removes # and // line comments and /* */ comments
// outside quoted strings.
func stripBINDComments(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		switch {
		case s[i] == '"':
			j := strings.IndexByte(s[i+1:], '"')
			if j < 0 {
				b.WriteString(s[i:])
				return b.String()
			}
			b.WriteString(s[i : i+j+2])
			i += j + 1
		case s[i] == '#' || strings.HasPrefix(s[i:], "//"):
			for i < len(s) && s[i] != '\n' {
				i++
			}
			b.WriteByte('\n')
		case strings.HasPrefix(s[i:], "/*"):
			j := strings.Index(s[i+2:], "*/")
			if j < 0 {
				return b.String()
			}
			i += j + 3
			b.WriteByte(' ')
		default:
			b.WriteByte(s[i])
		}
	}
	return b.String()
}

func unquote(s string) string {
	if len(s) >= 2 && s[0] == '"' && s[len(s)-1] == '"' {
		return s[1 : len(s)-1]
	}
	return s
}

// adoptBINDKey takes a secret given as a BIND key file (secret_file pointing
// at what tsig-keygen wrote) apart: the secret is its base64, and the key's
// name and algorithm fill in name and algorithm where the config leaves
// them out. A name or algorithm given in both places must agree.
func (t *TSIG) adoptBINDKey() error {
	s := t.Secret.Reveal()
	if !looksLikeBINDKey(s) {
		return nil
	}
	k, err := parseBINDKey(s)
	if err != nil {
		return fmt.Errorf("not a base64 secret nor a BIND key file: %v", err)
	}
	if t.Name != "" && !strings.EqualFold(strings.TrimSuffix(t.Name, "."), strings.TrimSuffix(k.Name, ".")) {
		return fmt.Errorf("the key file's key is %q, but name is %q", k.Name, t.Name)
	}
	if t.Algorithm != "" && k.Algorithm != "" && !strings.EqualFold(strings.TrimSuffix(t.Algorithm, "."), strings.TrimSuffix(k.Algorithm, ".")) {
		return fmt.Errorf("the key file's algorithm is %s, but algorithm is %s", k.Algorithm, t.Algorithm)
	}
	if t.Name == "" {
		t.Name = k.Name
	}
	if t.Algorithm == "" {
		t.Algorithm = k.Algorithm
	}
	t.Secret = config.Secret(k.Secret)
	return nil
}
