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
