package health

import (
	"os"
	"regexp"
	"testing"

	"github.com/redund/redund/internal/config"
)

// checkBlock matches the ```toml check blocks of docs/check.md: one check
// table each, as written inside a scheme's table.
var checkBlock = regexp.MustCompile("(?s)```toml check\n(.*?)```")

// TestDocCheckBlocks decodes (strictly) and validates every check example
// of docs/check.md, so that the documented keys cannot rot.
func TestDocCheckBlocks(t *testing.T) {
	src, err := os.ReadFile("../../docs/check.md")
	if err != nil {
		t.Fatal(err)
	}
	blocks := checkBlock.FindAllStringSubmatch(string(src), -1)
	if len(blocks) < 4 {
		t.Fatalf("found %d check examples in docs/check.md, want one per kind", len(blocks))
	}
	kinds := map[string]bool{}
	for i, b := range blocks {
		var c Config
		if err := config.Decode("docs/check.md", b[1], &c); err != nil {
			t.Errorf("example %d: %v", i+1, err)
			continue
		}
		if err := c.Validate(); err != nil {
			t.Errorf("example %d: %v", i+1, err)
		}
		kinds[c.Kind] = true
	}
	for k := range kindKeys {
		if !kinds[k] {
			t.Errorf("docs/check.md has no example of kind %q", k)
		}
	}
}
