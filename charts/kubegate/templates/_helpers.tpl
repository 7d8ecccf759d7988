{{/* The image every container runs. */}}
{{- define "kubegate.image" -}}
{{ .Values.image.repository }}:{{ .Values.image.tag | default .Chart.AppVersion }}
{{- end }}

{{/* Labels of every object: the manifests' own, plus Helm's. */}}
{{- define "kubegate.labels" -}}
app.kubernetes.io/part-of: kubegate
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/instance: {{ .Release.Name }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end }}

{{/* A component's labels: its name first (the selectors use it). */}}
{{- define "kubegate.componentLabels" -}}
app.kubernetes.io/name: {{ .name }}
{{ include "kubegate.labels" .root }}
{{- end }}
