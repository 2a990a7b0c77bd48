package app

import "slices"

// ownedSetting remembers a process-wide setting (GOMAXPROCS, the GC floor)
// as each loaded config asked for it, in the order they were applied: the
// newest is in force. Caddy starts a new config before it cleans up the old
// one, and cleans up a config whose start failed while the old one keeps
// serving, so when a config goes the newest remaining config's value must
// come back, not the value found at start.
type ownedSetting[T any] struct {
	owners []*started
	values []T
}

// push records owner's value as the newest (an owner applying again moves
// to the end).
func (s *ownedSetting[T]) push(owner *started, v T) {
	s.drop(owner)
	s.owners = append(s.owners, owner)
	s.values = append(s.values, v)
}

// drop forgets owner and returns the newest remaining value; ok is false
// when no config is left.
func (s *ownedSetting[T]) drop(owner *started) (newest T, ok bool) {
	if i := slices.Index(s.owners, owner); i >= 0 {
		s.owners = slices.Delete(s.owners, i, i+1)
		s.values = slices.Delete(s.values, i, i+1)
	}
	if len(s.values) == 0 {
		return newest, false
	}
	return s.values[len(s.values)-1], true
}
