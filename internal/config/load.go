package config

import (
	"errors"
	"fmt"
	"maps"
	"os"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/BurntSushi/toml"
)

// Validator is implemented by configuration structs that check themselves.
// Validate returns nil, an Errors or a *FieldError with paths relative to v.
type Validator interface {
	Validate() error
}

// Defaulter is implemented by configuration structs that fill in their
// defaults. Decode calls SetDefaults once the file is decoded (secrets
// resolved), before any validation, so the code that uses the config reads
// plain fields and a dump of it shows the values in effect. SetDefaults
// sets only what the file left unset, so calling it again changes nothing.
type Defaulter interface {
	SetDefaults()
}

// Load reads the TOML file at path into v (a pointer to a struct) strictly:
// every problem is returned together as Errors, each naming the file, the
// line and the key. Secrets (fields of type Secret) are resolved from their
// _file or _env variants, then defaults are set (Defaulter). Load does not
// call Validate; Check does both.
func Load(path string, v any) error {
	src, err := os.ReadFile(path)
	if err != nil {
		return Errors{{File: path, Msg: fmt.Sprintf("cannot read config: %v", err)}}
	}
	return Decode(path, string(src), v)
}

// Decode is Load for a source already in memory; name is used in messages.
func Decode(name, src string, v any) error {
	md, err := toml.Decode(src, v)
	if err != nil {
		fe := decodeError(name, src, err, secretKeys(reflect.TypeOf(v)))
		fe.fatal = true
		return Errors{fe}
	}
	var raw map[string]any
	if _, err := toml.Decode(src, &raw); err != nil {
		fe := decodeError(name, src, err, secretKeys(reflect.TypeOf(v)))
		fe.fatal = true
		return Errors{fe}
	}
	var errs Errors
	resolved := map[string]bool{}
	walkSecrets(raw, reflect.ValueOf(v).Elem(), "", "", resolved, &errs)
	if d, ok := v.(Defaulter); ok {
		d.SetDefaults()
	}
	pos := positions(src)
	reported := map[string]bool{}
	for _, k := range md.Undecoded() {
		if resolved[k.String()] {
			continue
		}
		// a table whose children are undecoded is reported through them
		if md.Type(k...) == "Hash" && hasUndecodedChild(md.Undecoded(), k) {
			continue
		}
		// inside arrays of tables, name each element the key is written in
		paths := pos.withIndices(k.String())
		if len(paths) == 0 {
			paths = []string{k.String()}
		}
		for _, p := range paths {
			if !reported[p] {
				reported[p] = true
				errs.Add(p, "unknown key (check the spelling; see docs/configuration.md)")
			}
		}
	}
	return Annotate(name, src, errs.Err())
}

// Check decodes like Load and then runs v's Validate (when v implements
// Validator), returning every problem with file and line: unknown keys and
// bad values together. Only a file that could not be read or parsed stops
// before validation.
func Check(path string, v any) error {
	src, err := os.ReadFile(path)
	if err != nil {
		return Errors{{File: path, Msg: fmt.Sprintf("cannot read config: %v", err), fatal: true}}
	}
	var errs Errors
	errs.Merge("", Decode(path, string(src), v))
	for _, e := range errs {
		if e.fatal {
			return errs
		}
	}
	var verrs Errors
	verrs.Merge("", Annotate(path, string(src), validate(v)))
	for _, e := range verrs {
		if !secretReported(errs, e.Path) {
			errs = append(errs, e)
		}
	}
	errs.sortByLine()
	return errs.Err()
}

// secretReported says whether decoding already reported a problem with the
// K_file or K_env variant of the secret at path: then the secret is empty
// because of that problem, and Validate's "K is required" would say the
// same thing a second time.
func secretReported(decoded Errors, path string) bool {
	for _, e := range decoded {
		if e.Path == path+"_file" || e.Path == path+"_env" {
			return true
		}
	}
	return false
}

func validate(v any) error {
	if val, ok := v.(Validator); ok {
		return val.Validate()
	}
	return nil
}

// Annotate attaches the file name and the line of each key path in src to
// the problems in err (an Errors or *FieldError); other errors pass through.
func Annotate(name, src string, err error) error {
	if err == nil {
		return nil
	}
	var errs Errors
	errs.Merge("", err)
	pos := positions(src)
	for _, e := range errs {
		e.File = name
		if e.Line == 0 {
			e.Line = pos.lookup(e.Path)
		}
	}
	errs.sortByLine()
	return errs
}

func hasUndecodedChild(keys []toml.Key, parent toml.Key) bool {
	for _, k := range keys {
		if len(k) > len(parent) && reflect.DeepEqual([]string(k[:len(parent)]), []string(parent)) {
			return true
		}
	}
	return false
}

var typeErrRe = regexp.MustCompile(`^toml: line (\d+) \(last key "([^"]*)"\): (.*)$`)

// decodeError turns a toml error into a FieldError with line, column and
// the offending line shown. The value of a key named in secret is not
// shown: on the line it is [redacted], and so is a line inside the value
// of a secret (a multi-line string) and any piece of it that the parser's
// message quotes.
func decodeError(name, src string, err error, secret map[string]bool) *FieldError {
	var pe toml.ParseError
	if errors.As(err, &pe) {
		line := pe.Position.Line
		text, hidden := redactLine(lineOf(src, line), secret)
		if !hidden && secret[lastKeyPart(pe.LastKey)] && !assignRe.MatchString(text) {
			text, hidden = Redacted, true
		}
		msg := pe.Message
		if hidden {
			msg = redactMessage(msg)
		}
		if pe.LastKey != "" {
			msg = fmt.Sprintf("%s (key %s)", msg, pe.LastKey)
		}
		if pe.Position.Col > 0 {
			msg = fmt.Sprintf("column %d: %s", pe.Position.Col, msg)
		}
		if text != "" {
			msg += "\n    " + text
			if pe.Position.Col > 0 && !hidden {
				msg += "\n    " + strings.Repeat(" ", pe.Position.Col-1) + "^"
			}
		}
		return &FieldError{File: name, Line: line, Path: pe.LastKey, Msg: msg}
	}
	// type errors: toml: line 2 (last key "admin.listen"): incompatible types: ...
	if m := typeErrRe.FindStringSubmatch(err.Error()); m != nil {
		line, _ := strconv.Atoi(m[1])
		msg := strings.Replace(m[3], "TOML value has type int64", "TOML value is an integer", 1)
		return &FieldError{File: name, Line: line, Path: m[2], Msg: msg}
	}
	return &FieldError{File: name, Msg: err.Error()}
}

func lineOf(src string, n int) string {
	lines := strings.Split(src, "\n")
	if n < 1 || n > len(lines) {
		return ""
	}
	return strings.TrimRight(lines[n-1], "\r")
}

// walkSecrets finds K_file / K_env keys that stand for a Secret field K,
// reads them and sets the field. key is the dotted path without indices (as
// toml.Key prints it), path is the display path with indices.
func walkSecrets(raw map[string]any, rv reflect.Value, key, path string, resolved map[string]bool, errs *Errors) {
	for rv.Kind() == reflect.Pointer {
		if rv.IsNil() {
			return
		}
		rv = rv.Elem()
	}
	if rv.Kind() != reflect.Struct {
		return
	}
	for _, k := range slices.Sorted(maps.Keys(raw)) {
		val := raw[k]
		if f, base, ok := secretField(rv, k); ok {
			resolveSecret(raw, f, k, base, val, Join(path, k), errs)
			resolved[Join(key, k)] = true
			continue
		}
		f, ok := fieldByTag(rv, k)
		if !ok {
			continue
		}
		descend(val, f, Join(key, k), Join(path, k), resolved, errs)
	}
}

func descend(val any, f reflect.Value, key, path string, resolved map[string]bool, errs *Errors) {
	switch x := val.(type) {
	case map[string]any:
		switch f.Kind() {
		case reflect.Struct, reflect.Pointer:
			walkSecrets(x, f, key, path, resolved, errs)
		case reflect.Map:
			for mk, mv := range x {
				sub, ok := mv.(map[string]any)
				elem := f.MapIndex(reflect.ValueOf(mk))
				if !ok || !elem.IsValid() {
					continue
				}
				cp := reflect.New(elem.Type()).Elem()
				cp.Set(elem)
				walkSecrets(sub, cp, Join(key, mk), Join(path, mk), resolved, errs)
				f.SetMapIndex(reflect.ValueOf(mk), cp)
			}
		}
	case []map[string]any:
		if f.Kind() != reflect.Slice {
			return
		}
		for i := 0; i < len(x) && i < f.Len(); i++ {
			walkSecrets(x[i], f.Index(i), key, Index(path, i), resolved, errs)
		}
	}
}

var secretType = reflect.TypeOf(Secret(""))

func secretField(rv reflect.Value, k string) (reflect.Value, string, bool) {
	for _, suffix := range []string{"_file", "_env"} {
		if base, ok := strings.CutSuffix(k, suffix); ok {
			if f, ok := fieldByTag(rv, base); ok && f.Type() == secretType {
				return f, base, true
			}
		}
	}
	return reflect.Value{}, "", false
}

func resolveSecret(raw map[string]any, f reflect.Value, k, base string, val any, path string, errs *Errors) {
	ref, ok := val.(string)
	if !ok || ref == "" {
		errs.Add(path, "must be a non-empty string")
		return
	}
	if _, both := raw[base]; both {
		errs.Add(path, "give %s or %s, not both", base, k)
		return
	}
	unresolved := func(format string, args ...any) {
		errs.Add(path, format, args...)
		(*errs)[len(*errs)-1].unresolved = true
	}
	if strings.HasSuffix(k, "_env") {
		noteSecretEnv(ref) // kept from the commands redund starts (ChildEnv)
		v, ok := os.LookupEnv(ref)
		if !ok || v == "" {
			unresolved("environment variable %s is not set", ref)
			return
		}
		f.SetString(v)
		return
	}
	b, err := os.ReadFile(ref)
	if err != nil {
		unresolved("cannot read secret file %s: %v", ref, errors.Unwrap(err))
		return
	}
	s := strings.TrimRight(string(b), "\r\n")
	if s == "" {
		unresolved("secret file %s is empty", ref)
		return
	}
	f.SetString(s)
}

// fieldByTag finds the settable struct field whose toml tag (or name) is k.
func fieldByTag(rv reflect.Value, k string) (reflect.Value, bool) {
	t := rv.Type()
	for i := 0; i < t.NumField(); i++ {
		sf := t.Field(i)
		if !sf.IsExported() {
			continue
		}
		name := strings.Split(sf.Tag.Get("toml"), ",")[0]
		if name == "-" {
			continue
		}
		if sf.Anonymous && name == "" {
			if f, ok := fieldByTag(rv.Field(i), k); ok {
				return f, true
			}
			continue
		}
		if name == k || (name == "" && strings.EqualFold(sf.Name, k)) {
			return rv.Field(i), true
		}
	}
	return reflect.Value{}, false
}
