package lifecycle

import (
	"slices"
	"testing"
)

func TestKeysUnder(t *testing.T) {
	changed := []string{"ddns.cat.servers[1].priority", "ddns.cats.zone", "ddns.cat", "voter.a.clients.x.password", "ddns.dog.zone"}
	for _, tc := range []struct {
		name   string
		tables []string
		want   []string
	}{
		{"a scheme", []string{"ddns.cat"}, []string{"ddns.cat.servers[1].priority", "ddns.cat"}},
		{"an array element", []string{"ddns.cat.servers[1]"}, []string{"ddns.cat.servers[1].priority"}},
		{"two tables", []string{"ddns.dog", "voter.a.clients"}, []string{"voter.a.clients.x.password", "ddns.dog.zone"}},
		{"none", []string{"gateway"}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := KeysUnder(changed, tc.tables...); !slices.Equal(got, tc.want) {
				t.Errorf("KeysUnder(%v) = %v, want %v", tc.tables, got, tc.want)
			}
		})
	}
}
