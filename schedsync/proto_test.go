package schedsync

import (
	"strconv"
	"strings"
	"testing"
)

func TestCompat(t *testing.T) {
	self := nodeInfo{Node: "a", Role: RolePrimary, Version: "1.0", Proto: ProtocolVersion, Epoch: 2}
	cases := []struct {
		name string
		edit func(*nodeInfo)
		want string // "" compatible
	}{
		{"secondary of the same version", func(p *nodeInfo) {}, ""},
		{"other protocol", func(p *nodeInfo) { p.Proto = 1 }, "different protocol versions: this node " + strconv.Itoa(ProtocolVersion) + ", peer 1"},
		{"other version", func(p *nodeInfo) { p.Version = "1.1" }, "different versions"},
		{"same node id", func(p *nodeInfo) { p.Node = "a" }, `both nodes have node id "a" (set node_id)`},
		{"two primaries", func(p *nodeInfo) { p.Role = RolePrimary; p.Epoch = 3 }, "two primaries (epoch 2 here, 3 on the peer)"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			other := nodeInfo{Node: "b", Role: RoleSecondary, Version: "1.0", Proto: ProtocolVersion}
			c.edit(&other)
			got := compat(self, other)
			if (c.want == "") != (got == "") || !strings.Contains(got, c.want) {
				t.Fatalf("compat = %q, want %q", got, c.want)
			}
		})
	}
	two := nodeInfo{Node: "b", Role: RoleSecondary, Version: "1.0", Proto: ProtocolVersion}
	self.Role = RoleSecondary
	if got := compat(self, two); !strings.Contains(got, "both nodes are secondaries") {
		t.Fatalf("two secondaries: %q", got)
	}
}
