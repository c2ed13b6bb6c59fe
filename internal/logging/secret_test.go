package logging

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"github.com/redund/redund/internal/config"
)

const secretText = "hunter2-s3cr3t-value"

type exportedCfg struct {
	Name  string
	Token config.Secret
}

type hiddenCfg struct {
	name  string
	token config.Secret
}

type nestedCfg struct {
	Server  *exportedCfg
	servers []hiddenCfg
	byName  map[string]any
	inner   struct{ Key config.Secret }
}

// tokenLogValuer resolves to a struct that hides a secret, as a type with a
// careless LogValue might.
type tokenLogValuer struct{ s config.Secret }

func (v tokenLogValuer) LogValue() slog.Value { return slog.AnyValue(hiddenCfg{"lv", v.s}) }

// logEverything logs the secret through every path we can think of.
func logEverything(log *slog.Logger) {
	s := config.Secret(secretText)
	ex := exportedCfg{Name: "ex", Token: s}
	hid := hiddenCfg{name: "hid", token: s}
	nested := &nestedCfg{Server: &ex, servers: []hiddenCfg{hid},
		byName: map[string]any{"k": s, "h": hid}}
	nested.inner.Key = s

	log.Info("direct", "token", s)
	log.Info("direct any", slog.Any("token", s))
	badKey := []any{s}
	log.Info("bad key", badKey...) // odd argument count: !BADKEY
	log.Info(fmt.Sprintf("message %v %+v %s %q %x %#v", s, s, s, s, s, s))
	log.Info(fmt.Sprintf("exported struct %v %+v %#v", ex, ex, ex))
	log.Info(fmt.Sprintf("pointer %v %+v", &ex, &ex))
	log.Info("struct attr", "cfg", ex, "ptr", &ex)
	log.Info("hidden struct attr", "cfg", hid, "ptr", &hid)
	log.Info("nested", "cfg", nested, "val", *nested)
	log.Info("slice", "tokens", []config.Secret{s, s}, "hidden", []hiddenCfg{hid})
	log.Info("map", "m", map[string]config.Secret{"a": s}, "k", map[config.Secret]int{s: 1})
	log.Info("group", slog.Group("g", "token", s, "cfg", hid, slog.Group("deep", "cfg", hid)))
	log.With("token", s, "cfg", hid).Info("with attrs")
	log.WithGroup("grp").With("cfg", hid).Info("with group", "token", s)
	log.Info("log valuer", "v", tokenLogValuer{s})
	log.Error("error", "err", fmt.Errorf("auth with %v failed", s), "wrapped",
		errors.Join(errors.New("x"), fmt.Errorf("token %s", s)))
	Component(log, "voter", "east").Info("component", "cfg", hid)
}

func TestNoSecretInLogs(t *testing.T) {
	for _, format := range []string{"text", "json"} {
		t.Run(format, func(t *testing.T) {
			var buf bytes.Buffer
			ring := NewRing(100)
			log, err := New(&buf, "debug", format, ring)
			if err != nil {
				t.Fatal(err)
			}
			logEverything(log)
			out := buf.String()
			if strings.Contains(out, secretText) {
				t.Errorf("secret reached the %s log:\n%s", format, leakingLines(out))
			}
			if !strings.Contains(out, "[redacted]") {
				t.Errorf("no [redacted] marker in the %s log; did anything get logged?\n%s", format, out)
			}
			if n := strings.Count(out, "\n"); n != 17 {
				t.Errorf("%d lines logged, want 17:\n%s", n, out)
			}
			for _, e := range ring.Events() {
				if strings.Contains(fmt.Sprintf("%+v", e), secretText) {
					t.Errorf("secret reached the ring: %+v", e)
				}
			}
			if n := len(ring.Events()); n != 17 {
				t.Errorf("ring holds %d events, want 17", n)
			}
		})
	}
}

func leakingLines(out string) string {
	var b strings.Builder
	for _, l := range strings.Split(out, "\n") {
		if strings.Contains(l, secretText) {
			b.WriteString(l + "\n")
		}
	}
	return b.String()
}

func TestRedactKeepsOtherFields(t *testing.T) {
	var buf bytes.Buffer
	log, err := New(&buf, "info", "text", nil)
	if err != nil {
		t.Fatal(err)
	}
	log.Info("x", "cfg", hiddenCfg{name: "visible-name", token: secretText})
	out := buf.String()
	if !strings.Contains(out, "visible-name") || !strings.Contains(out, "[redacted]") {
		t.Errorf("redacted struct lost its other fields or the marker: %s", out)
	}
}

func TestRedactLeavesPlainValuesAlone(t *testing.T) {
	type plain struct {
		A int
		b string
	}
	for _, v := range []slog.Value{
		slog.AnyValue(plain{1, "x"}),
		slog.StringValue("s"),
		slog.IntValue(3),
		slog.AnyValue([]byte("bytes")),
		slog.AnyValue(exportedCfg{Token: secretText}), // hides itself, kept as is
	} {
		got := redactValue(v)
		if got.Kind() != v.Kind() || got.String() != v.String() {
			t.Errorf("redactValue(%v) = %v (%v), want unchanged", v, got, got.Kind())
		}
	}
}

func TestRedactCycle(t *testing.T) {
	type node struct {
		next  *node
		token config.Secret
	}
	n := &node{token: secretText}
	n.next = n
	got := redactValue(slog.AnyValue(n)).String()
	if strings.Contains(got, secretText) {
		t.Errorf("cyclic value leaked: %s", got)
	}
}

func TestScrubLongestFirst(t *testing.T) {
	got := scrub("ab abc", []string{"ab", "abc"})
	if got != "[redacted] [redacted]" {
		t.Errorf("scrub = %q", got)
	}
}
