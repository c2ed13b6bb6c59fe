package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"maps"
	"os"
	"reflect"
	"slices"
	"strings"
	"time"

	"github.com/BurntSushi/toml"

	"github.com/redund/redund/internal/adminapi"
	"github.com/redund/redund/internal/config"
)

// reloadFunc is the hook through which a scheme applies a re-read config
// while it runs (the Reload step of the scheme lifecycle). It gets the
// whole new file, already validated, and the key paths that changed under
// the daemon's Tables ("ddns.cat.servers[1].priority"); it returns those it
// applied live. Every other changed key is logged as needing a restart. It
// applies all or nothing: after an error the scheme runs on its old config.
// A daemon without one applies nothing live.
type reloadFunc func(ctx context.Context, cfg *fileConfig, changed []string) (applied []string, err error)

// flatConfig is a config file as leaf key path → value, with [i] for the
// elements of arrays of tables: the key paths config errors use.
type flatConfig map[string]any

// readFlat reads the TOML file at path into a flatConfig.
func readFlat(path string) (flatConfig, error) {
	f, _, err := readFlatSum(path)
	return f, err
}

// readFlatSum is readFlat that also names the bytes it read (configSum).
func readFlatSum(path string) (flatConfig, string, error) {
	src, err := os.ReadFile(path)
	if err != nil {
		return nil, "", usageErr("%s: %v", path, err)
	}
	var raw map[string]any
	if _, err := toml.Decode(string(src), &raw); err != nil {
		return nil, "", usageErr("%s: %v", path, err)
	}
	f := flatConfig{}
	f.add("", raw)
	f.readSecretFiles(config.SecretNames(&fileConfig{}))
	return f, configSum(src), nil
}

// secretFile is the value of a K_file key in a flatConfig: the file named
// and a digest of what it holds, so that a new content is a changed key
// (the value itself is never kept, nor logged).
type secretFile struct {
	Path string
	Sum  [sha256.Size]byte
}

// readSecretFiles replaces the value of each secret's K_file key by the
// file's secretFile. A file that cannot be read is left as its name
// (loadConfig reports it).
func (f flatConfig) readSecretFiles(secret map[string]bool) {
	for k, v := range f {
		name := k[strings.LastIndexAny(k, ".]")+1:]
		base, ok := strings.CutSuffix(name, "_file")
		path, isString := v.(string)
		if !ok || !secret[base] || !isString {
			continue
		}
		if b, err := os.ReadFile(path); err == nil {
			f[k] = secretFile{Path: path, Sum: sha256.Sum256([]byte(strings.TrimRight(string(b), "\r\n")))}
		}
	}
}

// configSum names a config file's content: the first 12 hex digits of its
// SHA-256 (compare with `sha256sum redund.toml`).
func configSum(src []byte) string {
	h := sha256.Sum256(src)
	return "sha256:" + hex.EncodeToString(h[:6])
}

func (f flatConfig) add(path string, v any) {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			f.add(config.Join(path, k), e)
		}
	case []map[string]any:
		for i, e := range x {
			f.add(config.Index(path, i), e)
		}
	default:
		f[path] = v
	}
}

// schemeTables are the key paths the daemon named "<scheme> <command>"
// runs on: its scheme's table and its own [admin] keys.
func schemeTables(name string) []string {
	scheme, _, _ := strings.Cut(name, " ")
	return []string{scheme, "admin." + scheme, "admin.listen", "admin.token", "admin.token_file", "admin.token_env",
		"admin.socket_dir", "admin.socket_user", "admin.socket_group"}
}

// under reports whether key is table or lies inside it.
func under(key, table string) bool {
	return key == table || strings.HasPrefix(key, table+".") || strings.HasPrefix(key, table+"[")
}

func underAny(key string, tables []string) bool {
	return slices.ContainsFunc(tables, func(t string) bool { return under(key, t) })
}

// changedKeys lists, sorted, the keys under tables that were added,
// removed or changed from old to new.
func changedKeys(old, new flatConfig, tables []string) []string {
	var out []string
	for _, k := range slices.Sorted(maps.Keys(old)) {
		if v, ok := new[k]; underAny(k, tables) && (!ok || !reflect.DeepEqual(v, old[k])) {
			out = append(out, k)
		}
	}
	for _, k := range slices.Sorted(maps.Keys(new)) {
		if _, ok := old[k]; !ok && underAny(k, tables) {
			out = append(out, k)
		}
	}
	slices.Sort(out)
	return out
}

// missingTables names the scheme tables (not [admin]) the old config had
// and the new one lacks: the daemon could not even restart on it.
func missingTables(old, new flatConfig, tables []string) []string {
	var out []string
	for _, t := range tables {
		if strings.HasPrefix(t, "admin.") {
			continue
		}
		has := func(f flatConfig) bool {
			return slices.ContainsFunc(slices.Collect(maps.Keys(f)), func(k string) bool { return under(k, t) })
		}
		if has(old) && !has(new) {
			out = append(out, t)
		}
	}
	return out
}

// reload is what SIGHUP does: re-read and check the config; on a problem
// log each (file:line) and keep running on the old config; else hand the
// changes to the Reload hook and log, per key, what needs a restart. Only
// a reload that applied every change is logged as "config reloaded"; the
// READY=1 that ends it carries a STATUS= saying which config runs and
// what the reload did (systemctl status shows it).
func (d *daemon) reload(ctx context.Context) {
	d.notify.send(reloading())
	defer func() { d.notify.send(notifyReady + "\nSTATUS=" + d.statusLine()) }()
	if d.cfgPath == "" {
		d.Log.Warn("SIGHUP: no config file to re-read")
		return
	}
	at := time.Now().UTC().Format(time.DateTime) + " UTC"
	d.Log.Info("SIGHUP: re-reading the config", "config", d.cfgPath)
	f, flat, sum, err := d.readNew()
	if err != nil {
		n := d.logProblems(err)
		d.lastReload = fmt.Sprintf("reload at %s refused (%s), still on the old config", at, n)
		return
	}
	changed := changedKeys(d.running, flat, d.Tables)
	applied, err := d.apply(ctx, f, changed)
	if err != nil {
		d.Log.Error("config reload: the new config could not be applied; still running on the old one", "err", err)
		d.lastReload = fmt.Sprintf("reload at %s failed, still on the old config", at)
		return
	}
	for _, k := range applied {
		if v, ok := flat[k]; ok {
			d.running[k] = v
		} else {
			delete(d.running, k)
		}
	}
	d.logRestartKeys(changed, applied)
	d.pending = slices.DeleteFunc(slices.Clone(changed), func(k string) bool { return slices.Contains(applied, k) })
	d.sum = sum
	args := []any{"config", d.cfgPath, "sum", sum, "changed", len(changed), "applied", len(applied), "need_restart", len(d.pending)}
	if len(d.pending) > 0 {
		d.Log.Warn("config reload: not all changes are in effect; restart to apply the rest", args...)
		d.lastReload = fmt.Sprintf("reload at %s applied %d of %d changed keys", at, len(applied), len(changed))
		return
	}
	d.Log.Info("config reloaded", args...)
	d.lastReload = "reloaded at " + at
}

// statusLine is the STATUS= systemd shows for the daemon: its admin
// address, the config file it read last (configSum) and what the last
// reload did. It names keys, never values.
func (d *daemon) statusLine() string {
	s := "running, admin on " + d.Admin.Addr()
	if d.Admin.Addr() == adminapi.Off {
		s = "running, admin on its socket only (TCP off)"
	}
	if d.cfgPath == "" {
		return s
	}
	s += "; config " + d.sum
	if len(d.pending) > 0 {
		s += fmt.Sprintf(", %d changed key(s) need a restart (%s)", len(d.pending), strings.Join(firstKeys(d.pending, 3), ", "))
	}
	if d.lastReload != "" {
		s += "; " + d.lastReload
	}
	return s
}

// firstKeys is keys, cut to n with "..." after them.
func firstKeys(keys []string, n int) []string {
	if len(keys) <= n {
		return keys
	}
	return append(slices.Clone(keys[:n]), "...")
}

// readNew loads, validates and flattens the config file again; sum names
// the content the flattened config came from.
func (d *daemon) readNew() (f *fileConfig, flat flatConfig, sum string, err error) {
	if f, err = loadConfig(d.cfgPath); err != nil {
		return nil, nil, "", err
	}
	if flat, sum, err = readFlatSum(d.cfgPath); err != nil {
		return nil, nil, "", err
	}
	var errs config.Errors
	for _, t := range missingTables(d.running, flat, d.Tables) {
		errs = append(errs, &config.FieldError{File: d.cfgPath, Path: t, Msg: "this daemon runs on this table; the new config has none"})
	}
	return f, flat, sum, errs.Err()
}

func (d *daemon) apply(ctx context.Context, f *fileConfig, changed []string) ([]string, error) {
	if d.Reload == nil || len(changed) == 0 {
		return nil, nil
	}
	applied, err := d.Reload(ctx, f, changed)
	if err != nil {
		return nil, err
	}
	return slices.DeleteFunc(applied, func(k string) bool { return !slices.Contains(changed, k) }), nil
}

// logProblems logs every problem of a config that was not taken, and
// sums them up for the STATUS line: their number and where the first is
// (file:line, no message: STATUS is readable by every local user).
func (d *daemon) logProblems(err error) string {
	var errs config.Errors
	if !errors.As(err, &errs) {
		errs = config.Errors{{File: d.cfgPath, Msg: err.Error()}}
	}
	d.Log.Error("config reload refused: still running on the old config", "config", d.cfgPath, "problems", len(errs))
	for _, e := range errs {
		d.Log.Error("config problem", "at", e.Error())
	}
	first := errs[0].File
	if errs[0].Line > 0 {
		first = fmt.Sprintf("%s:%d", first, errs[0].Line)
	}
	return fmt.Sprintf("%d problem(s), the first at %s", len(errs), first)
}

// logRestartKeys logs each changed key that was not applied live, with
// the line it is on in the new file.
func (d *daemon) logRestartKeys(changed, applied []string) {
	if len(changed) == 0 {
		d.Log.Info("config reload: nothing changed for this daemon")
		return
	}
	src, _ := os.ReadFile(d.cfgPath)
	for _, k := range changed {
		if slices.Contains(applied, k) {
			d.Log.Info("config key applied", "key", k)
			continue
		}
		at := config.Annotate(d.cfgPath, string(src), &config.FieldError{Path: k, Msg: "changed"})
		d.Log.Warn("config key changed: restart to apply it", "key", k, "at", locationOf(at, d.cfgPath))
	}
}

// locationOf is the "file:line" of an annotated error, or file alone.
func locationOf(err error, file string) string {
	var fe *config.FieldError
	var errs config.Errors
	switch {
	case errors.As(err, &errs) && len(errs) > 0:
		fe = errs[0]
	case errors.As(err, &fe):
	default:
		return file
	}
	if fe.Line > 0 {
		return fmt.Sprintf("%s:%d", file, fe.Line)
	}
	return file
}
