package logging

import (
	"fmt"
	"log/slog"
	"reflect"
	"slices"
	"strings"

	"github.com/redund/redund/internal/config"
)

// maxWalkDepth bounds how deep RedactAttr looks into a value for secrets.
const maxWalkDepth = 10

var secretType = reflect.TypeFor[config.Secret]()

// RedactAttr is a slog ReplaceAttr function that keeps config.Secret values
// out of log lines. A Secret hides itself wherever its methods are called
// (String, LogValue, MarshalJSON), but fmt cannot call methods on values held
// in unexported struct fields, so slog.Any("cfg", cfg) with such a field would
// print the raw value. When a value holds a Secret where its methods would
// not be called (or where encoding/json ignores them: map keys), RedactAttr
// replaces the value with its %+v text in which every such secret is
// replaced by "[redacted]".
func RedactAttr(_ []string, a slog.Attr) slog.Attr {
	a.Value = redactValue(a.Value)
	return a
}

// redactValue returns v with hidden secrets removed (groups included).
func redactValue(v slog.Value) slog.Value {
	v = v.Resolve()
	switch v.Kind() {
	case slog.KindGroup:
		attrs := v.Group()
		out := make([]slog.Attr, len(attrs))
		for i, a := range attrs {
			out[i] = slog.Attr{Key: a.Key, Value: redactValue(a.Value)}
		}
		return slog.GroupValue(out...)
	case slog.KindAny:
		x := v.Any()
		secrets := hiddenSecrets(x)
		if len(secrets) == 0 {
			return v
		}
		return slog.StringValue(scrub(fmt.Sprintf("%+v", x), secrets))
	}
	return v
}

// scrub replaces every secret in s, longest first so that a secret that
// contains another is replaced whole.
func scrub(s string, secrets []string) string {
	slices.SortFunc(secrets, func(a, b string) int { return len(b) - len(a) })
	for _, sec := range secrets {
		s = strings.ReplaceAll(s, sec, config.Redacted)
	}
	return s
}

// hiddenSecrets returns the values of the non-empty secrets in v that sit
// behind an unexported field (where fmt prints them raw).
func hiddenSecrets(v any) []string {
	w := walker{seen: map[uintptr]bool{}}
	w.walk(reflect.ValueOf(v), false, 0)
	return w.found
}

type walker struct {
	seen  map[uintptr]bool
	found []string
}

func (w *walker) walk(v reflect.Value, hidden bool, depth int) {
	if !v.IsValid() || depth > maxWalkDepth {
		return
	}
	if v.Type() == secretType {
		if hidden && v.String() != "" {
			w.found = append(w.found, v.String())
		}
		return
	}
	switch v.Kind() {
	case reflect.Pointer:
		if v.IsNil() || w.seen[v.Pointer()] {
			return
		}
		w.seen[v.Pointer()] = true
		w.walk(v.Elem(), hidden, depth+1)
	case reflect.Interface:
		w.walk(v.Elem(), hidden, depth+1)
	case reflect.Struct:
		for i := 0; i < v.NumField(); i++ {
			w.walk(v.Field(i), hidden || !v.Type().Field(i).IsExported(), depth+1)
		}
	case reflect.Slice, reflect.Array:
		if !mayHold(v.Type().Elem()) {
			return
		}
		for i := 0; i < v.Len(); i++ {
			w.walk(v.Index(i), hidden, depth+1)
		}
	case reflect.Map:
		it := v.MapRange()
		for it.Next() {
			// encoding/json writes string-kind map keys raw, skipping
			// MarshalText, so a Secret map key always counts as hidden.
			w.walk(it.Key(), true, depth+1)
			w.walk(it.Value(), hidden, depth+1)
		}
	}
}

// mayHold reports whether a value of type t could contain a Secret; it lets
// the walk skip large slices of plain numbers or strings.
func mayHold(t reflect.Type) bool {
	if t == secretType {
		return true
	}
	switch t.Kind() {
	case reflect.Pointer, reflect.Interface, reflect.Struct, reflect.Slice, reflect.Array, reflect.Map:
		return true
	}
	return false
}
