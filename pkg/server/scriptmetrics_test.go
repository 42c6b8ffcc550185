package server

import (
	"errors"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/require"

	"github.com/hubd/hubd/pkg/metrics"
	"github.com/hubd/hubd/pkg/scripting"
)

// TestScriptRefusalsCounted: a script call stopped by a limit counts as a
// script error of its kind and as a refusal with the limit's reason.
func TestScriptRefusalsCounted(t *testing.T) {
	s := &Server{metrics: metrics.NewUnregistered()}
	calls := []struct {
		kind string
		err  error
	}{
		{"handler", &scripting.ScriptError{Kind: scripting.KindMemory, Err: scripting.ErrMemoryBudget}},
		{"handler", &scripting.ScriptError{Kind: scripting.KindMemory, Err: scripting.ErrMemoryBudget}},
		{"state", &scripting.ScriptError{Kind: scripting.KindTimeout, Err: scripting.ErrTimeout}},
		{"handler", &scripting.ScriptError{Kind: scripting.KindRuntime, Err: errors.New("threw")}},
		{"scheduled", nil},
	}
	for _, c := range calls {
		s.observeScript(c.kind, time.Millisecond, c.err)
	}
	require.Equal(t, 2.0, testutil.ToFloat64(s.metrics.Refusals.WithLabelValues("script_memory")))
	require.Equal(t, 1.0, testutil.ToFloat64(s.metrics.Refusals.WithLabelValues("script_timeout")))
	require.Equal(t, 3.0, testutil.ToFloat64(s.metrics.ScriptErrorsTotal.WithLabelValues("handler")))
	require.Equal(t, 1.0, testutil.ToFloat64(s.metrics.ScriptErrorsTotal.WithLabelValues("state")))
	require.Equal(t, 0.0, testutil.ToFloat64(s.metrics.ScriptErrorsTotal.WithLabelValues("scheduled")))
}
