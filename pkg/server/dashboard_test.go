package server

import (
	"encoding/json"
	"os"
	"reflect"
	"regexp"
	"sort"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"
)

// exportedNames lists every metric name the daemon can export: the
// families it gathers now and the descriptors of every collector (vectors
// without children are described but not gathered), with the series of
// histograms.
func exportedNames(t *testing.T, srv *Server) map[string]bool {
	t.Helper()
	names := map[string]bool{}
	fams, err := srv.metrics.Registry.Gather()
	require.NoError(t, err)
	for _, f := range fams {
		names[f.GetName()] = true
	}
	var collectors []prometheus.Collector
	v := reflect.ValueOf(srv.metrics).Elem()
	for i := 0; i < v.NumField(); i++ {
		if c, ok := v.Field(i).Interface().(prometheus.Collector); ok && !v.Field(i).IsNil() {
			collectors = append(collectors, c)
		}
	}
	collectors = append(collectors, newStatsCollector(srv))
	fq := regexp.MustCompile(`fqName: "([^"]+)"`)
	for _, c := range collectors {
		ch := make(chan *prometheus.Desc, 64)
		go func() { c.Describe(ch); close(ch) }()
		for d := range ch {
			if m := fq.FindStringSubmatch(d.String()); m != nil {
				names[m[1]] = true
			}
		}
	}
	for n := range names {
		for _, s := range []string{"_bucket", "_sum", "_count"} {
			names[n+s] = true
		}
	}
	return names
}

// TestGrafanaDashboardNamesExportedMetrics: every query of
// deploy/grafana/hubd.json (panels and variables) names only metrics the
// daemon exports, and every panel has a query.
func TestGrafanaDashboardNamesExportedMetrics(t *testing.T) {
	raw, err := os.ReadFile("../../deploy/grafana/hubd.json")
	require.NoError(t, err)
	var dash struct {
		Panels []struct {
			Title   string `json:"title"`
			Targets []struct {
				Expr string `json:"expr"`
			} `json:"targets"`
		} `json:"panels"`
		Templating struct {
			List []struct {
				Name  string `json:"name"`
				Query any    `json:"query"`
			} `json:"list"`
		} `json:"templating"`
	}
	require.NoError(t, json.Unmarshal(raw, &dash))
	require.NotEmpty(t, dash.Panels)
	srv, _ := testServer(t)
	names := exportedNames(t, srv)
	metric := regexp.MustCompile(`\b(?:hubd|process|go)_[a-z0-9_]+\b`)
	var unknown []string
	check := func(where, expr string) {
		found := metric.FindAllString(expr, -1)
		require.NotEmpty(t, found, "%s: %q names no metric", where, expr)
		for _, n := range found {
			if !names[n] {
				unknown = append(unknown, where+": "+n)
			}
		}
	}
	for _, p := range dash.Panels {
		require.NotEmpty(t, p.Targets, "panel %q has no query", p.Title)
		for _, q := range p.Targets {
			check("panel "+p.Title, q.Expr)
		}
	}
	for _, v := range dash.Templating.List {
		if q, ok := v.Query.(string); ok && v.Name != "datasource" {
			check("variable "+v.Name, q)
		}
	}
	sort.Strings(unknown)
	require.Empty(t, unknown, "metrics the daemon does not export")
}
