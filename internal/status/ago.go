package status

import (
	"fmt"
	"time"
)

// Ago says how long before now t was: "12s ago", "4m05s ago", "3h02m ago",
// "2d04h ago"; "-" for a zero time.
func Ago(now, t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	d := now.Sub(t)
	if d < 0 {
		d = 0
	}
	s := int64(d / time.Second)
	switch {
	case s < 60:
		return fmt.Sprintf("%ds ago", s)
	case s < 3600:
		return fmt.Sprintf("%dm%02ds ago", s/60, s%60)
	case s < 86400:
		return fmt.Sprintf("%dh%02dm ago", s/3600, s%3600/60)
	}
	return fmt.Sprintf("%dd%02dh ago", s/86400, s%86400/3600)
}
