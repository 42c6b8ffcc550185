package deploy_test

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// clusterValues runs three pods on the shared backends with every cluster
// feature of the chart on.
const clusterValues = `replicaCount: 3
backends: {postgres: true, redis: true}
service: {sessionAffinity: ClientIP}
podDisruptionBudget: {enabled: true}
autoscaling: {enabled: true, minReplicas: 3, maxReplicas: 9}
serviceMonitor: {enabled: true, labels: {release: prom}}
ingress:
  enabled: true
  className: nginx
  host: rt.example.com
  annotations: {nginx.ingress.kubernetes.io/session-cookie-name: mine}
extraVolumes: [{name: jwks, secret: {secretName: my-jwks}}]
extraVolumeMounts: [{name: jwks, mountPath: /etc/hubd/jwks, readOnly: true}]
`

func TestChartCluster(t *testing.T) {
	c := loadChart(t)
	objs, err := c.render(t, clusterValues)
	require.NoError(t, err)
	for _, k := range []string{"PodDisruptionBudget/rel-hubd", "HorizontalPodAutoscaler/rel-hubd", "ServiceMonitor/rel-hubd", "Ingress/rel-hubd"} {
		require.Contains(t, objs, k)
	}

	svc := objs["Service/rel-hubd"]
	require.Equal(t, "ClientIP", dig(t, svc, "spec", "sessionAffinity"))
	require.Equal(t, 10800.0, dig(t, svc, "spec", "sessionAffinityConfig", "clientIP", "timeoutSeconds"))
	require.Equal(t, "admin", byName(t, dig(t, svc, "spec", "ports"), "admin")["targetPort"])

	ing := objs["Ingress/rel-hubd"]
	ann := dig(t, ing, "metadata", "annotations").(map[string]any)
	require.Equal(t, "cookie", ann["nginx.ingress.kubernetes.io/affinity"])
	require.Equal(t, "mine", ann["nginx.ingress.kubernetes.io/session-cookie-name"], "the user's annotations win")
	require.Equal(t, "true", ann["traefik.ingress.kubernetes.io/service.sticky.cookie"])
	require.Equal(t, "hubd-affinity", ann["haproxy.org/cookie-persistence"])
	require.Equal(t, "nginx", dig(t, ing, "spec", "ingressClassName"))
	require.Equal(t, "rt.example.com", dig(t, ing, "spec", "rules", 0, "host"))
	require.Equal(t, "http", dig(t, ing, "spec", "rules", 0, "http", "paths", 0, "backend", "service", "port", "name"))

	require.Equal(t, 1.0, dig(t, objs["PodDisruptionBudget/rel-hubd"], "spec", "minAvailable"))
	hpa := objs["HorizontalPodAutoscaler/rel-hubd"]
	require.Equal(t, "rel-hubd", dig(t, hpa, "spec", "scaleTargetRef", "name"))
	require.Equal(t, 3.0, dig(t, hpa, "spec", "minReplicas"))
	sm := objs["ServiceMonitor/rel-hubd"]
	require.Equal(t, "admin", dig(t, sm, "spec", "endpoints", 0, "port"))
	require.Equal(t, "/metrics", dig(t, sm, "spec", "endpoints", 0, "path"))
	require.Equal(t, "prom", dig(t, sm, "metadata", "labels", "release"))

	dep := objs["Deployment/rel-hubd"]
	require.NotContains(t, dep["spec"], "replicas", "the autoscaler sets the replicas")
	require.Equal(t, 0.0, dig(t, dep, "spec", "strategy", "rollingUpdate", "maxUnavailable"))
	spec := dig(t, dep, "spec", "template", "spec").(map[string]any)
	ctr := dig(t, spec, "containers", 0).(map[string]any)
	require.Equal(t, "my-jwks", dig(t, byName(t, spec["volumes"], "jwks"), "secret", "secretName"))
	require.Equal(t, "/etc/hubd/jwks", byName(t, ctr["volumeMounts"], "jwks")["mountPath"])
	require.Equal(t, "256Mi", dig(t, ctr, "resources", "requests", "memory"), "default requests")
	require.Equal(t, "1Gi", dig(t, ctr, "resources", "limits", "memory"), "default limits")
}

func TestChartRequiresATokenKey(t *testing.T) {
	c := loadChart(t)
	_, err := c.render(t, "secrets: {jwtSecret: \"\"}\n")
	require.ErrorContains(t, err, "secrets.jwtSecret is empty")
	_, err = c.render(t, "secrets: {jwtSecret: \"\", existingSecret: mine}\n")
	require.NoError(t, err, "the key is in the existing Secret")
	_, err = c.render(t, "autoscaling: {enabled: true}\n")
	require.ErrorContains(t, err, "needs backends.postgres and backends.redis", "autoscaling needs the shared backends")
}

func TestChartReloaderSidecar(t *testing.T) {
	c := loadChart(t)
	objs, err := c.render(t, "reloader: {enabled: true, intervalSeconds: 5}\n")
	require.NoError(t, err)
	dep := objs["Deployment/rel-hubd"]
	ann := dig(t, dep, "spec", "template", "metadata", "annotations").(map[string]any)
	require.NotContains(t, ann, "checksum/files", "hub edits do not roll the pods")
	require.Contains(t, ann, "checksum/config")
	spec := dig(t, dep, "spec", "template", "spec").(map[string]any)
	side := byName(t, spec["containers"], "reloader")
	hubd := byName(t, spec["containers"], "hubd")
	require.Equal(t, hubd["image"], side["image"], "the hubd image's bash")
	cmd := side["command"].([]any)
	require.Equal(t, []any{"bash", "-c"}, cmd[:2])
	require.Contains(t, cmd[2], "POST /-/reload")
	require.Contains(t, cmd[2], "/dev/tcp/127.0.0.1/9090")
	require.Contains(t, cmd[2], "sleep 5")
	require.Equal(t, []string{"hubs", "lib", "records"}, names(side["volumeMounts"]))

	objs, err = c.render(t, "")
	require.NoError(t, err)
	spec = dig(t, objs["Deployment/rel-hubd"], "spec", "template", "spec").(map[string]any)
	require.Equal(t, []string{"hubd"}, names(spec["containers"]), "no sidecar by default")
}
