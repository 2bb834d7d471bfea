{{/* The chart's name, at most 63 characters (a DNS label). */}}
{{- define "podinfo.name" -}}
{{- .Chart.Name | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
The name of the release's objects: the release name, or "<release>-podinfo" when the
release name does not contain the chart's name.
*/}}
{{- define "podinfo.fullname" -}}
{{- if contains .Chart.Name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}

{{/* chart-version, as the helm.sh/chart label wants it. */}}
{{- define "podinfo.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* The image with its tag (the chart's appVersion by default). */}}
{{- define "podinfo.image" -}}
{{- printf "%s:%s" .Values.image.repository (.Values.image.tag | default .Chart.AppVersion) }}
{{- end }}

{{/* Labels that select the release's pods: they never change between upgrades. */}}
{{- define "podinfo.selectorLabels" -}}
app.kubernetes.io/name: {{ include "podinfo.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{/* Labels of every object of the release. */}}
{{- define "podinfo.labels" -}}
{{ include "podinfo.selectorLabels" . }}
helm.sh/chart: {{ include "podinfo.chart" . }}
app.kubernetes.io/version: {{ .Values.image.tag | default .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{/*
Labels of the release's helper pods (the hook Job's and the test's), given a component name:
not the selector labels, so that neither the Deployment nor the Service ever picks them up.
*/}}
{{- define "podinfo.componentLabels" -}}
{{- $ := index . 0 -}}
app.kubernetes.io/name: {{ include "podinfo.name" $ }}-{{ index . 1 }}
app.kubernetes.io/instance: {{ $.Release.Name }}
app.kubernetes.io/component: {{ index . 1 }}
helm.sh/chart: {{ include "podinfo.chart" $ }}
app.kubernetes.io/managed-by: {{ $.Release.Service }}
{{- end }}

{{/* The Service's in-cluster address, host:port. */}}
{{- define "podinfo.serviceAddress" -}}
{{- printf "%s.%s:%d" (include "podinfo.fullname" .) .Release.Namespace (int .Values.service.port) }}
{{- end }}
