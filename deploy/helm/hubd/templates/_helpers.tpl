{{/* Name of the chart, overridable. */}}
{{- define "hubd.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Fully qualified name of the release's objects. */}}
{{- define "hubd.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else if contains (include "hubd.name" .) .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name (include "hubd.name" .) | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "hubd.selectorLabels" -}}
app.kubernetes.io/name: {{ include "hubd.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "hubd.labels" -}}
{{ include "hubd.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{- define "hubd.secretName" -}}
{{- default (include "hubd.fullname" .) .Values.secrets.existingSecret -}}
{{- end -}}

{{/*
The pod keeps files in /var/lib/hubd that must outlive it: the embedded
message store (without PostgreSQL) or the script kv store (without Redis).
Only one process may open them, so the pod gets a PVC and the Recreate
strategy.
*/}}
{{- define "hubd.stateful" -}}
{{- if not (and .Values.backends.postgres .Values.backends.redis) -}}true{{- end -}}
{{- end -}}

{{/*
hubd.yaml: the user's config with the paths of the container layout. The
paths win over the same keys in .Values.config.
*/}}
{{- define "hubd.config" -}}
{{- $fixed := dict "listen" "0.0.0.0:8080" "hubs" "/etc/hubd/hubs" "lib" "/etc/hubd/lib" "records" "/etc/hubd/records" "data" "/var/lib/hubd" "store" (ternary "postgres" "embedded" .Values.backends.postgres) -}}
{{- toYaml (merge $fixed (deepCopy .Values.config)) -}}
{{- end -}}

{{/*
The reloader sidecar's loop: a checksum of the mounted hub, lib and record
files (through the kubelet's symlinks) every intervalSeconds; when it
changes, POST /-/reload on the admin port (bash's /dev/tcp: the image has no
HTTP client). A failed POST is retried at the next turn.
*/}}
{{- define "hubd.reloaderScript" -}}
sum() { find -L /etc/hubd/hubs /etc/hubd/lib /etc/hubd/records -type f -not -path '*/..*' -exec md5sum {} + 2>/dev/null | sort | md5sum; }
last=$(sum)
while sleep {{ .Values.reloader.intervalSeconds }}; do
  cur=$(sum)
  [ "$cur" = "$last" ] && continue
  if exec 3<>/dev/tcp/127.0.0.1/{{ .Values.admin.port }}; then
    printf 'POST /-/reload HTTP/1.0\r\nHost: localhost\r\nContent-Length: 0\r\n\r\n' >&3
    read -r status <&3
    exec 3>&-
    echo "files changed: reload: $status"
    case "$status" in *" 200"*) last=$cur ;; esac
  fi
done
{{- end }}
