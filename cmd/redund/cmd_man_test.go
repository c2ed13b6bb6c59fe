package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// The manual page is plain-ASCII troff that groff formats without a
// warning, names itself redund(1) and has a section per command.
func TestManPage(t *testing.T) {
	page, code := runCLI(t, "man")
	if code != exitOK {
		t.Fatalf("man: exit %d: %s", code, page)
	}
	if !strings.Contains(page, ".TH redund 1") || !strings.Contains(page, ".SH NAME") {
		t.Errorf("no .TH redund 1 / .SH NAME:\n%.300s", page)
	}
	for i, r := range page {
		if r > 127 {
			t.Fatalf("non-ASCII %q at byte %d: troff without preconv would warn", r, i)
		}
	}
	for _, c := range newApp().Commands {
		if !regexp.MustCompile(`(?m)^\.SH ` + c.Name + `$`).MatchString(page) {
			t.Errorf("no section for %s", c.Name)
		}
	}
	if !strings.Contains(page, "[voter.<instance>]") {
		t.Error(`"<instance>" was dropped (taken for HTML by the markdown step)`)
	}
	groff := needTool(t, "groff")
	cmd := exec.Command(groff, "-man", "-Tutf8", "-ww", "-z") // all warnings, no output
	cmd.Stdin = strings.NewReader(page)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil || stderr.Len() > 0 {
		t.Errorf("groff: %v\n%s", err, stderr.String())
	}
}

func completionScript(t *testing.T, shell string) string {
	t.Helper()
	out, code := runCLI(t, "completion", shell)
	if code != exitOK || out == "" {
		t.Fatalf("completion %s: exit %d: %q", shell, code, out)
	}
	p := filepath.Join(t.TempDir(), "redund."+shell)
	if err := os.WriteFile(p, []byte(out), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// Each script parses in its shell (-n: read, do not run).
func TestCompletionScriptsParse(t *testing.T) {
	for _, sh := range []string{"bash", "zsh", "fish"} {
		t.Run(sh, func(t *testing.T) {
			script := completionScript(t, sh)
			bin := needTool(t, sh)
			if out, err := exec.Command(bin, "-n", script).CombinedOutput(); err != nil || len(out) > 0 {
				t.Errorf("%s -n: %v\n%s", sh, err, out)
			}
		})
	}
	if out, code := runCLI(t, "completion", "tcsh"); code != exitUsage || !strings.Contains(out, `unknown shell "tcsh"`) {
		t.Errorf("completion tcsh: exit %d, %q; want 2 and the reason", code, out)
	}
}

// The bash script completes through a real redund process: commands of a
// group, and flags of a command.
func TestBashCompletionCompletes(t *testing.T) {
	script := completionScript(t, "bash")
	bash := needTool(t, "bash")
	for _, tt := range []struct {
		words string // COMP_WORDS after the program; the last one is being typed
		want  []string
	}{
		{`voter ""`, []string{"serve", "client", "import"}},
		{`gateway config e`, []string{"export"}},
		{`voter serve --ad`, []string{"--admin"}},
		{`""`, []string{"version", "man", "completion", "gateway"}},
	} {
		t.Run(tt.words, func(t *testing.T) {
			src := `source "$1"; COMP_WORDS=("$2" ` + tt.words + `); COMP_CWORD=$((${#COMP_WORDS[@]}-1)); _redund; printf '%s\n' "${COMPREPLY[@]}"`
			cmd := exec.Command(bash, "-c", src, "bash", script, selfBinary(t))
			cmd.Env = redundEnv()
			out, err := cmd.Output()
			got := strings.Fields(string(out))
			for _, w := range tt.want {
				if err != nil || !slices.Contains(got, w) {
					t.Errorf("completing %s: %v, got %q; want it to include %q", tt.words, err, got, w)
				}
			}
		})
	}
}
