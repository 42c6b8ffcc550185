package metrics

import (
	"reflect"

	"github.com/prometheus/client_golang/prometheus"
)

// partialDeleter is every metric vector (counter, gauge, histogram).
type partialDeleter interface {
	DeletePartialMatch(labels prometheus.Labels) int
}

// DeleteHub removes every series labelled with hub (a hub a reload
// removed), so that its last values do not linger on dashboards. It
// returns how many series went.
func (m *Metrics) DeleteHub(hub string) int {
	n := 0
	v := reflect.ValueOf(m).Elem()
	for i := 0; i < v.NumField(); i++ {
		if d, ok := v.Field(i).Interface().(partialDeleter); ok && !v.Field(i).IsNil() {
			n += d.DeletePartialMatch(prometheus.Labels{"hub": hub})
		}
	}
	return n
}
