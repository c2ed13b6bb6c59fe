package main

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"os"
	"reflect"
	"slices"
	"strings"

	"github.com/BurntSushi/toml"

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
	var raw map[string]any
	if _, err := toml.DecodeFile(path, &raw); err != nil {
		return nil, usageErr("%s: %v", path, err)
	}
	f := flatConfig{}
	f.add("", raw)
	return f, nil
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
	return []string{scheme, "admin." + scheme, "admin.listen", "admin.token", "admin.token_file", "admin.token_env"}
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
// changes to the Reload hook and log, per key, what needs a restart.
func (d *daemon) reload(ctx context.Context) {
	d.notify.send(reloading())
	defer d.notify.send(notifyReady)
	if d.cfgPath == "" {
		d.Log.Warn("SIGHUP: no config file to re-read")
		return
	}
	d.Log.Info("SIGHUP: re-reading the config", "config", d.cfgPath)
	f, flat, err := d.readNew()
	if err != nil {
		d.logProblems(err)
		return
	}
	changed := changedKeys(d.running, flat, d.Tables)
	applied, err := d.apply(ctx, f, changed)
	if err != nil {
		d.Log.Error("config reload: the new config could not be applied; still running on the old one", "err", err)
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
	d.Log.Info("config reloaded", "changed", len(changed), "applied", len(applied), "need_restart", len(changed)-len(applied))
}

// readNew loads, validates and flattens the config file again.
func (d *daemon) readNew() (*fileConfig, flatConfig, error) {
	f, err := loadConfig(d.cfgPath)
	if err != nil {
		return nil, nil, err
	}
	flat, err := readFlat(d.cfgPath)
	if err != nil {
		return nil, nil, err
	}
	var errs config.Errors
	for _, t := range missingTables(d.running, flat, d.Tables) {
		errs = append(errs, &config.FieldError{File: d.cfgPath, Path: t, Msg: "this daemon runs on this table; the new config has none"})
	}
	return f, flat, errs.Err()
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

// logProblems logs every problem of a config that was not taken.
func (d *daemon) logProblems(err error) {
	var errs config.Errors
	if !errors.As(err, &errs) {
		errs = config.Errors{{File: d.cfgPath, Msg: err.Error()}}
	}
	d.Log.Error("config reload refused: still running on the old config", "config", d.cfgPath, "problems", len(errs))
	for _, e := range errs {
		d.Log.Error("config problem", "at", e.Error())
	}
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
