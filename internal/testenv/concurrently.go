package testenv

import (
	"sync"
	"testing"
)

// Concurrently runs f(0) ... f(n-1) on goroutines of their own, waits for
// all of them and fails tb with the first error any of them returned.
func Concurrently(tb testing.TB, n int, f func(i int) error) {
	tb.Helper()
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Go(func() {
			if err := f(i); err != nil {
				errs <- err
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		tb.Fatal(err)
	}
}
