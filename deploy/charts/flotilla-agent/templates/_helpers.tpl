{{/* Names, labels and the checks every template of the chart shares. */}}

{{- define "flotilla-agent.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* <release>-flotilla-agent, or the release name when it already contains the chart name. */}}
{{- define "flotilla-agent.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 52 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 52 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 52 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "flotilla-agent.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "flotilla-agent.selectorLabels" -}}
app.kubernetes.io/name: {{ include "flotilla-agent.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "flotilla-agent.labels" -}}
helm.sh/chart: {{ include "flotilla-agent.chart" . }}
{{ include "flotilla-agent.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: flotilla
app.kubernetes.io/component: agent
flotilla.dev/cluster: {{ .Values.cluster.name | quote }}
{{- end }}

{{- define "flotilla-agent.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "flotilla-agent.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "flotilla-agent.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}

{{- define "flotilla-agent.tokenSecret" -}}
{{- default (printf "%s-token" (include "flotilla-agent.fullname" .)) .Values.hub.tokenSecret.existingSecret }}
{{- end }}

{{- define "flotilla-agent.caConfigMap" -}}
{{- printf "%s-hub-ca" (include "flotilla-agent.fullname" .) }}
{{- end }}

{{/* k1=v1,k2=v2 in key order, as --labels takes them. */}}
{{- define "flotilla-agent.labelsArg" -}}
{{- $pairs := list }}
{{- range $k := keys .Values.cluster.labels | sortAlpha }}
{{- $pairs = append $pairs (printf "%s=%v" $k (index $.Values.cluster.labels $k)) }}
{{- end }}
{{- join "," $pairs }}
{{- end }}

{{/* Refuses values that cannot work, with what to change. */}}
{{- define "flotilla-agent.validate" -}}
{{- if not .Values.hub.address }}
{{- fail "hub.address is required: the host:port of the hub's agent gateway (e.g. --set hub.address=flotilla-hub.flotilla-system.svc:7443)." }}
{{- end }}
{{- $addr := "(\\[[0-9a-fA-F:.]+\\]|[^:/ ,\\[\\]]+):[0-9]+" }}
{{- if not (regexMatch (printf "^%s(,%s)*$" $addr $addr) .Values.hub.address) }}
{{- fail (printf "hub.address must be host:port (no scheme), or several separated by commas (hub replicas), got %q" .Values.hub.address) }}
{{- end }}
{{- if not .Values.cluster.name }}
{{- fail "cluster.name is required: this cluster's name in the fleet, a DNS label (e.g. --set cluster.name=prod-eu)." }}
{{- end }}
{{- if or (gt (len .Values.cluster.name) 63) (not (regexMatch "^[a-z0-9]([-a-z0-9]*[a-z0-9])?$" .Values.cluster.name)) }}
{{- fail (printf "cluster.name %q must be a DNS label: at most 63 lowercase letters, digits and '-', starting and ending with a letter or digit." .Values.cluster.name) }}
{{- end }}
{{- if and (not .Values.hub.ca) (not .Values.hub.caSecret) }}
{{- fail "hub.ca or hub.caSecret is required: the CA the agent verifies the hub's certificate with (e.g. --set-file hub.ca=hub-ca.crt)." }}
{{- end }}
{{- if and .Values.hub.ca (not (contains "-----BEGIN CERTIFICATE-----" .Values.hub.ca)) }}
{{- fail "hub.ca must be a PEM certificate (-----BEGIN CERTIFICATE-----...); use --set-file hub.ca=<file>." }}
{{- end }}
{{- if and .Values.hub.token .Values.hub.tokenSecret.existingSecret }}
{{- fail "set hub.token or hub.tokenSecret.existingSecret, not both." }}
{{- end }}
{{- range $key := list "maxArtifactBytes" "maxObjects" }}
{{- $v := index $.Values.limits $key }}
{{- if and (kindIs "string" $v) (regexMatch "^[0-9]+$" $v) }}{{ $v = int64 $v }}{{ end }}
{{- if or (not (or (kindIs "int64" $v) (kindIs "float64" $v))) (lt (float64 $v) 1.0) (ne (float64 $v) (float64 (int64 $v))) }}
{{- fail (printf "limits.%s must be a positive integer (bytes or objects), got %v" $key $v) }}
{{- end }}
{{- end }}
{{- if gt (float64 .Values.limits.maxArtifactBytes) 536870888.0 }}
{{- fail (printf "limits.maxArtifactBytes must be at most 536870888 (the longest string Node.js holds; the agent decodes an artifact to one), got %v" (int64 .Values.limits.maxArtifactBytes)) }}
{{- end }}
{{- if not (has .Values.log.level (list "debug" "info" "warn" "error")) }}
{{- fail (printf "log.level must be debug, info, warn or error, got %q" .Values.log.level) }}
{{- end }}
{{- end }}
