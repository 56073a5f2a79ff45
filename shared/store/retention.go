package store

import "time"

// ExpireAtField is the field Firestore's TTL policies read on the events and
// uploads collections (terraform/firestore.tf).
const ExpireAtField = "expire_at"

// WithRetention makes the store write an expire_at of now + d on every
// event and upload record, so a TTL policy deletes them after d; d <= 0
// writes none (kept forever, the emulator and local cloud default). Runs,
// prompts, phases, batches and epochs never expire.
func (s *Store) WithRetention(d time.Duration) *Store {
	s.retention = max(d, 0)
	return s
}
