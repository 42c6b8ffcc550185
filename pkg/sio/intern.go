package sio

import (
	"sync"
	"sync/atomic"
)

// Bounds of an interner: what a client can make it hold.
const (
	maxInterned    = 64 // strings
	maxInternedLen = 64 // bytes each
)

// interner hands out one string for each short byte sequence it has seen,
// so that the names nearly every packet repeats (its namespace, its event
// name) are not allocated again for each packet. It learns at most
// maxInterned strings of at most maxInternedLen bytes, first come first
// kept: past that (junk names of a hostile client, say) strings are
// allocated as without it. Lookups take no lock.
type interner struct {
	m  atomic.Pointer[map[string]string] // never written once stored
	mu sync.Mutex                        // serializes learning
}

// str returns string(b), the interned copy when there is one. Once the
// interner is full, a string it lacks takes no lock (every dispatcher
// would wait on mu for each packet of the names past the first
// maxInterned).
func (in *interner) str(b []byte) string {
	m := in.m.Load()
	if m != nil {
		if s, ok := (*m)[string(b)]; ok {
			return s
		}
	}
	s := string(b)
	if len(s) <= maxInternedLen && (m == nil || len(*m) < maxInterned) {
		in.learn(s)
	}
	return s
}

// learn adds s, unless the interner is full or has it.
func (in *interner) learn(s string) {
	in.mu.Lock()
	defer in.mu.Unlock()
	var old map[string]string
	if p := in.m.Load(); p != nil {
		old = *p
	}
	if _, ok := old[s]; ok || len(old) >= maxInterned {
		return
	}
	m := make(map[string]string, len(old)+1)
	for k, v := range old {
		m[k] = v
	}
	m[s] = s
	in.m.Store(&m)
}
