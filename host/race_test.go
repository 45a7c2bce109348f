//go:build race

package host

// raceEnabled: the race detector slows every host call; the heaviest
// end-to-end tests are left to the normal run.
const raceEnabled = true
