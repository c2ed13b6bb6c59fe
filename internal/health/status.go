package health

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// StatusRange is an inclusive range of HTTP status codes.
type StatusRange struct{ Lo, Hi int }

// StatusSet is the list of HTTP status codes a check accepts.
type StatusSet []StatusRange

// DefaultStatus accepts 200-399, the answer after redirects are followed.
var DefaultStatus = StatusSet{{200, 399}}

// ParseStatus parses status specifications: each is a comma-separated list
// of codes ("200"), inclusive ranges ("301-302") or classes ("2xx"). Codes
// must lie in 100-599. No specification at all gives DefaultStatus.
func ParseStatus(specs ...string) (StatusSet, error) {
	var set StatusSet
	for _, spec := range specs {
		for _, item := range strings.Split(spec, ",") {
			r, err := parseStatusItem(strings.TrimSpace(item))
			if err != nil {
				return nil, err
			}
			set = append(set, r)
		}
	}
	if len(set) == 0 {
		return DefaultStatus, nil
	}
	return set, nil
}

func parseStatusItem(s string) (StatusRange, error) {
	if s == "" {
		return StatusRange{}, errors.New("empty status code")
	}
	if len(s) == 3 && strings.EqualFold(s[1:], "xx") && s[0] >= '1' && s[0] <= '5' {
		base := int(s[0]-'0') * 100
		return StatusRange{base, base + 99}, nil
	}
	lo, hi, isRange := strings.Cut(s, "-")
	a, err := parseCode(lo)
	if err != nil {
		return StatusRange{}, err
	}
	if !isRange {
		return StatusRange{a, a}, nil
	}
	b, err := parseCode(hi)
	if err != nil {
		return StatusRange{}, err
	}
	if b < a {
		return StatusRange{}, fmt.Errorf("status range %q: end before start", s)
	}
	return StatusRange{a, b}, nil
}

func parseCode(s string) (int, error) {
	s = strings.TrimSpace(s)
	if len(s) != 3 {
		return 0, fmt.Errorf("status %q: want a 3-digit code, a range like 301-302 or a class like 2xx", s)
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 100 || n > 599 {
		return 0, fmt.Errorf("status %q: want a code from 100 to 599", s)
	}
	return n, nil
}

// Has reports whether code is accepted.
func (s StatusSet) Has(code int) bool {
	for _, r := range s {
		if code >= r.Lo && code <= r.Hi {
			return true
		}
	}
	return false
}

// String writes the set in the form ParseStatus reads.
func (s StatusSet) String() string {
	parts := make([]string, len(s))
	for i, r := range s {
		if r.Lo == r.Hi {
			parts[i] = strconv.Itoa(r.Lo)
		} else {
			parts[i] = fmt.Sprintf("%d-%d", r.Lo, r.Hi)
		}
	}
	return strings.Join(parts, ",")
}
