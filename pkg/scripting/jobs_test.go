package scripting

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/hubd/hubd/internal/testenv"
)

// TestReusedJobsKeepCallsApart: calls share pooled jobs, yet every call gets
// its own variables and its own result, also while other calls are
// canceled before or during their run, and a job comes back cleared.
func TestReusedJobsKeepCallsApart(t *testing.T) {
	e := newEngine(t, Options{Runtimes: 2, CallTimeout: 10 * time.Second})
	double, isEven, spin := MustCompile(`n * 2`), MustCompile(`n % 2 === 0`), MustCompile(`for(;;){}`)
	const callers, calls = 8, 40
	testenv.Concurrently(t, callers, func(c int) error {
		for i := 0; i < calls; i++ {
			n := int64(c*1000 + i)
			vars := Fields{{Name: "n", Value: n}}
			if i%10 == 5 { // canceled while it runs
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Millisecond)
				_, err := e.EvalFields(ctx, spin, fmt.Sprint(c), vars)
				cancel()
				if err == nil {
					return fmt.Errorf("caller %d call %d: endless loop returned", c, i)
				}
			}
			got, err := e.EvalFields(context.Background(), double, fmt.Sprint(i), vars)
			if err != nil || got != 2*n {
				return fmt.Errorf("caller %d call %d: got %v, %v; want %d", c, i, got, err, 2*n)
			}
			even, err := e.EvalBool(context.Background(), isEven, fmt.Sprint(c), map[string]any{"n": n})
			if err != nil || even != (n%2 == 0) {
				return fmt.Errorf("caller %d call %d: even %v, %v", c, i, even, err)
			}
		}
		return nil
	})
	canceled, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := e.EvalFields(canceled, double, "r", Fields{{Name: "n", Value: int64(1)}})
	requireKind(t, err, KindCanceled)
	for i := 0; i < 4; i++ {
		j := jobPool.Get().(*job)
		require.Nil(t, j.ctx)
		require.Nil(t, j.p)
		require.Nil(t, j.vars)
		require.False(t, j.asBool)
		require.Zero(t, len(j.results))
		require.Equal(t, 1, cap(j.results))
		defer jobPool.Put(j)
	}
}
