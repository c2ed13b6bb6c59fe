// Package config loads redund's single TOML file strictly: unknown keys are
// errors, parse errors carry line and column, validation errors carry the key
// path (ddns.cat.servers[2].priority) and the line it was written on, and
// secrets may come from files or environment variables instead of the file.
package config

import (
	"errors"
	"fmt"
	"sort"
	"strings"
)

// FieldError is one problem with one key of the configuration.
type FieldError struct {
	File string // file the key was read from, when known
	Line int    // 1-based line of the key, 0 when unknown
	Path string // dotted key path, e.g. ddns.cat.servers[2].priority
	Msg  string

	fatal bool // decoding stopped here: the value was not fully read
	// unresolved: a secret's K_env or K_file could not be read, so the
	// secret is empty; a command that uses no secret may go on
	unresolved bool
}

func (e *FieldError) Error() string {
	var b strings.Builder
	if e.File != "" {
		b.WriteString(e.File)
		if e.Line > 0 {
			fmt.Fprintf(&b, ":%d", e.Line)
		}
		b.WriteString(": ")
	}
	if e.Path != "" {
		b.WriteString(e.Path)
		b.WriteString(": ")
	}
	b.WriteString(e.Msg)
	return b.String()
}

// Errors collects every problem found, not just the first.
type Errors []*FieldError

// Add records a problem at path.
func (e *Errors) Add(path, format string, args ...any) {
	*e = append(*e, &FieldError{Path: path, Msg: fmt.Sprintf(format, args...)})
}

// Merge adds the problems of err (an Errors, a *FieldError or any error)
// under the path prefix; a nil err adds nothing.
func (e *Errors) Merge(prefix string, err error) {
	if err == nil {
		return
	}
	var errs Errors
	var fe *FieldError
	switch {
	case errors.As(err, &errs):
		for _, x := range errs {
			c := *x
			c.Path = Join(prefix, c.Path)
			*e = append(*e, &c)
		}
	case errors.As(err, &fe):
		c := *fe
		c.Path = Join(prefix, c.Path)
		*e = append(*e, &c)
	default:
		*e = append(*e, &FieldError{Path: prefix, Msg: err.Error()})
	}
}

// WithoutUnresolvedSecrets drops the problems of secrets whose K_env
// variable is unset or whose K_file cannot be read: for commands that use
// no secret (`srv gen` in a CI drift check needs no TSIG key). Every other
// problem stays.
func (e Errors) WithoutUnresolvedSecrets() Errors {
	var out Errors
	for _, x := range e {
		if !x.unresolved {
			out = append(out, x)
		}
	}
	return out
}

// Err returns nil when no problem was recorded, else the Errors.
func (e Errors) Err() error {
	if len(e) == 0 {
		return nil
	}
	return e
}

func (e Errors) Error() string {
	lines := make([]string, len(e))
	for i, x := range e {
		lines[i] = x.Error()
	}
	return strings.Join(lines, "\n")
}

// sortByLine orders problems by file position, keeping unknown lines last.
func (e Errors) sortByLine() {
	sort.SliceStable(e, func(i, j int) bool {
		li, lj := e[i].Line, e[j].Line
		if li == 0 || lj == 0 {
			return li != 0 && lj == 0
		}
		return li < lj
	})
}

// Join joins two key path parts: Join("ddns.cat", "servers[2]") is
// "ddns.cat.servers[2]", Join("x", "[1].a") is "x[1].a".
func Join(prefix, path string) string {
	switch {
	case prefix == "":
		return path
	case path == "":
		return prefix
	case strings.HasPrefix(path, "["):
		return prefix + path
	}
	return prefix + "." + path
}

// Index formats a slice element path: Index("servers", 2) is "servers[2]".
func Index(path string, i int) string { return fmt.Sprintf("%s[%d]", path, i) }
