//go:build race

package voter

// raceEnabled: the race detector's instrumentation allocates, so tests
// that count allocations skip under -race.
const raceEnabled = true
