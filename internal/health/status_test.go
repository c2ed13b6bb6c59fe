package health

import (
	"fmt"
	"reflect"
	"strings"
	"testing"
)

func TestParseStatus(t *testing.T) {
	tests := []struct {
		in      []string
		want    StatusSet
		wantErr string
	}{
		{nil, StatusSet{{200, 399}}, ""},
		{[]string{"200"}, StatusSet{{200, 200}}, ""},
		{[]string{"200", "301-302"}, StatusSet{{200, 200}, {301, 302}}, ""},
		{[]string{"200, 204,3xx"}, StatusSet{{200, 200}, {204, 204}, {300, 399}}, ""},
		{[]string{"5XX"}, StatusSet{{500, 599}}, ""},
		{[]string{""}, nil, "empty status code"},
		{[]string{"200,"}, nil, "empty status code"},
		{[]string{"99"}, nil, `status "99": want a 3-digit code`},
		{[]string{"600"}, nil, "from 100 to 599"},
		{[]string{"302-301"}, nil, "end before start"},
		{[]string{"200-"}, nil, `status ""`},
		{[]string{"6xx"}, nil, `status "6xx"`},
		{[]string{"2oo"}, nil, "from 100 to 599"},
		{[]string{"+20"}, nil, "from 100 to 599"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.in, ","), func(t *testing.T) {
			got, err := ParseStatus(tt.in...)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Errorf("ParseStatus(%q) error %v, want %q", tt.in, err, tt.wantErr)
				}
				return
			}
			if err != nil || !reflect.DeepEqual(got, tt.want) {
				t.Errorf("ParseStatus(%q) = %v, %v; want %v", tt.in, got, err, tt.want)
			}
		})
	}
}

func TestStatusSetHas(t *testing.T) {
	s, _ := ParseStatus("200", "301-302")
	for code, want := range map[int]bool{200: true, 201: false, 300: false, 301: true, 302: true, 303: false} {
		t.Run(fmt.Sprint(code), func(t *testing.T) {
			if s.Has(code) != want {
				t.Errorf("Has(%d) = %v, want %v", code, !want, want)
			}
		})
	}
	if s.String() != "200,301-302" {
		t.Errorf("String() = %q", s.String())
	}
}

// FuzzParseStatus: never panics; what parses has ranges inside 100-599 and
// its String form parses back to the same set.
func FuzzParseStatus(f *testing.F) {
	for _, s := range []string{"200", "200,301-302", "2xx,404", "", "599-100", "1xx , 5XX"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, spec string) {
		set, err := ParseStatus(spec)
		if err != nil {
			return
		}
		for _, r := range set {
			if r.Lo < 100 || r.Hi > 599 || r.Lo > r.Hi {
				t.Fatalf("ParseStatus(%q) gave range %v", spec, r)
			}
		}
		again, err := ParseStatus(set.String())
		if err != nil || !reflect.DeepEqual(again, set) {
			t.Fatalf("round trip of %q: %v -> %q -> %v, %v", spec, set, set.String(), again, err)
		}
	})
}
