// Package text has the small wording helpers that messages share.
package text

import "strconv"

// Plural returns "1 difference" or "N differences": n and word, with an s
// unless n is 1 (every word redund counts takes a plain s).
func Plural(n int, word string) string {
	if n == 1 {
		return "1 " + word
	}
	return strconv.Itoa(n) + " " + word + "s"
}
