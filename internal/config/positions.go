package config

import (
	"fmt"
	"slices"
	"strings"
)

// posMap maps display key paths (with [i] for arrays of tables) to lines.
type posMap map[string]int

// lookup returns the line of path (or of its K_file / K_env variant, where
// a secret K was given that way), or of its nearest ancestor, or 0.
func (p posMap) lookup(path string) int {
	for _, v := range []string{"_file", "_env"} {
		if l, ok := p[path+v]; ok {
			if _, direct := p[path]; !direct {
				return l
			}
		}
	}
	for path != "" {
		if l, ok := p[path]; ok {
			return l
		}
		i := strings.LastIndexAny(path, ".[")
		if i < 0 {
			return 0
		}
		path = path[:i]
	}
	return 0
}

// positions scans TOML source for table headers and keys. It is not a
// parser (the decoder already accepted the file); it only needs to find
// where each key was written so that messages can name the line.
func positions(src string) posMap {
	pos := posMap{}
	arrays := map[string]int{} // array-of-tables path -> next index
	table := ""
	depth := 0 // open [ or { of a multi-line value
	inML := "" // open multi-line string delimiter
	for n, line := range strings.Split(src, "\n") {
		ln := n + 1
		s := strings.TrimSpace(line)
		if inML != "" {
			if strings.Contains(s, inML) {
				inML = ""
			}
			continue
		}
		if depth > 0 {
			depth += bracketDelta(s)
			continue
		}
		if s == "" || s[0] == '#' {
			continue
		}
		switch {
		case strings.HasPrefix(s, "[["):
			name := cleanKey(strings.TrimSuffix(strings.SplitN(s[2:], "]]", 2)[0], "]]"))
			base := name
			if dot := strings.LastIndex(name, "."); dot >= 0 {
				base = Join(resolveArrays(name[:dot], arrays), name[dot+1:])
			}
			i := arrays[base]
			arrays[base] = i + 1
			table = fmt.Sprintf("%s[%d]", base, i)
			// clear counters of nested arrays under a new element
			for k := range arrays {
				if strings.HasPrefix(k, table+".") {
					delete(arrays, k)
				}
			}
			setOnce(pos, base, ln)
			pos[table] = ln
		case strings.HasPrefix(s, "["):
			name := cleanKey(strings.SplitN(s[1:], "]", 2)[0])
			table = resolveArrays(name, arrays)
			setOnce(pos, table, ln)
			for p := table; strings.Contains(p, "."); {
				p = p[:strings.LastIndex(p, ".")]
				setOnce(pos, p, ln)
			}
		default:
			eq := strings.Index(s, "=")
			if eq < 0 {
				continue
			}
			key := cleanKey(s[:eq])
			full := Join(table, key)
			pos[full] = ln
			rest := strings.TrimSpace(s[eq+1:])
			for _, d := range []string{`"""`, `'''`} {
				if strings.HasPrefix(rest, d) && strings.Count(rest, d) == 1 {
					inML = d
				}
			}
			if inML == "" {
				depth = bracketDelta(rest)
				if depth < 0 {
					depth = 0
				}
			}
		}
	}
	return pos
}

// withIndices returns the display paths (with [i]) of the keys written in
// the source whose path without indices is key: an unknown key inside the
// second [[srv.targets]] is srv.targets[1].wieght, on its own line.
func (p posMap) withIndices(key string) []string {
	var out []string
	for path := range p {
		if stripIndices(path) == key && path != key {
			out = append(out, path)
		}
	}
	slices.SortFunc(out, func(a, b string) int { return p[a] - p[b] })
	return out
}

func stripIndices(path string) string {
	var b strings.Builder
	skip := false
	for _, r := range path {
		switch {
		case r == '[':
			skip = true
		case r == ']':
			skip = false
		case !skip:
			b.WriteRune(r)
		}
	}
	return b.String()
}

func setOnce(p posMap, k string, ln int) {
	if _, ok := p[k]; !ok {
		p[k] = ln
	}
}

// resolveArrays rewrites a dotted table name so that components that are
// arrays of tables carry the index of their current element.
func resolveArrays(name string, arrays map[string]int) string {
	parts := strings.Split(name, ".")
	out := ""
	for _, p := range parts {
		out = Join(out, p)
		if n, ok := arrays[out]; ok && n > 0 {
			out = fmt.Sprintf("%s[%d]", out, n-1)
		}
	}
	return out
}

// cleanKey normalises a possibly quoted, possibly dotted key.
func cleanKey(k string) string {
	parts := strings.Split(strings.TrimSpace(k), ".")
	for i, p := range parts {
		p = strings.TrimSpace(p)
		p = strings.Trim(p, `"'`)
		parts[i] = p
	}
	return strings.Join(parts, ".")
}

// bracketDelta counts unbalanced [ and { outside strings and comments.
func bracketDelta(s string) int {
	d := 0
	var quote rune
	for _, r := range s {
		switch {
		case quote != 0:
			if r == quote {
				quote = 0
			}
		case r == '"' || r == '\'':
			quote = r
		case r == '#':
			return d
		case r == '[' || r == '{':
			d++
		case r == ']' || r == '}':
			d--
		}
	}
	return d
}
