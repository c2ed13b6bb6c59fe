package config

import (
	"fmt"
	"io/fs"
	"maps"
	"os"
	"reflect"
	"slices"
	"strings"

	"github.com/BurntSushi/toml"
)

// Exposed lists where a secret of the config at path (v is a pointer to the
// struct it decodes into) can be read by every user of the machine: the
// file itself, when it holds a secret inline (K = "...") and its mode lets
// others read or write it, and each secret file (K_file) whose mode does.
// Each names file, line and key, never a value; they are warnings, not
// reasons to refuse the file. A file that cannot be read or parsed gives
// none (Check reports it).
func Exposed(path string, v any) Errors {
	src, err := os.ReadFile(path)
	if err != nil {
		return nil
	}
	var raw map[string]any
	if _, err := toml.Decode(string(src), &raw); err != nil {
		return nil
	}
	secret := secretKeys(reflect.TypeOf(v))
	var inline []string
	var errs Errors
	walkExposed(raw, "", secret, &inline, &errs)
	if len(inline) > 0 {
		if mode, ok := openToOthers(path); ok {
			errs = append(Errors{{Path: inline[0], Msg: fmt.Sprintf(
				"a secret is written in the file and every user may read it (mode %04o): chmod o-rw %s, or give it as %s_file",
				mode, path, lastKeyPart(inline[0]))}}, errs...)
		}
	}
	if len(errs) == 0 {
		return nil
	}
	var out Errors
	out.Merge("", Annotate(path, string(src), errs))
	return out
}

// walkExposed collects, under the key path prefix, the keys holding a
// secret inline and a problem for each secret file open to others.
func walkExposed(raw map[string]any, prefix string, secret map[string]bool, inline *[]string, errs *Errors) {
	for _, k := range slices.Sorted(maps.Keys(raw)) {
		p := Join(prefix, k)
		switch x := raw[k].(type) {
		case map[string]any:
			walkExposed(x, p, secret, inline, errs)
		case []map[string]any:
			for i, e := range x {
				walkExposed(e, Index(p, i), secret, inline, errs)
			}
		case string:
			if secret[k] && x != "" {
				*inline = append(*inline, p)
			}
			if base, ok := strings.CutSuffix(k, "_file"); ok && secret[base] && x != "" {
				if mode, ok := openToOthers(x); ok {
					errs.Add(p, "secret file %s: every user may read it (mode %04o): chmod o-rw %s", x, mode, x)
				}
			}
		}
	}
}

// openToOthers reports the permission bits of the file at path when users
// other than its owner and group may read or write it.
func openToOthers(path string) (fs.FileMode, bool) {
	fi, err := os.Stat(path)
	if err != nil {
		return 0, false
	}
	mode := fi.Mode().Perm()
	return mode, mode&0o006 != 0
}
