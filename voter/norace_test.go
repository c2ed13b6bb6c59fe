//go:build !race

package voter

const raceEnabled = false
