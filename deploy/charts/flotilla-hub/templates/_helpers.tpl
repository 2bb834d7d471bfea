{{/* Names, labels and the checks every template of the chart shares. */}}

{{- define "flotilla-hub.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* <release>-flotilla-hub, or the release name when it already contains the chart name. */}}
{{- define "flotilla-hub.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "flotilla-hub.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "flotilla-hub.selectorLabels" -}}
app.kubernetes.io/name: {{ include "flotilla-hub.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "flotilla-hub.labels" -}}
helm.sh/chart: {{ include "flotilla-hub.chart" . }}
{{ include "flotilla-hub.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: flotilla
app.kubernetes.io/component: hub
{{- end }}

{{- define "flotilla-hub.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "flotilla-hub.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "flotilla-hub.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}

{{/* The Secret the chart makes from inline values (existingSecret references are used as given). */}}
{{- define "flotilla-hub.secretName" -}}
{{- printf "%s-secrets" (include "flotilla-hub.fullname" .) }}
{{- end }}

{{- define "flotilla-hub.s3CredentialsSecret" -}}
{{- with .Values.store.s3.credentials }}
{{- if .existingSecret }}{{ .existingSecret }}{{ else if or .accessKeyId .secretAccessKey }}{{ include "flotilla-hub.secretName" $ }}{{ end }}
{{- end }}
{{- end }}

{{- define "flotilla-hub.temporalApiKeySecret" -}}
{{- with .Values.temporal.apiKey }}
{{- if .existingSecret }}{{ .existingSecret }}{{ else if .value }}{{ include "flotilla-hub.secretName" $ }}{{ end }}
{{- end }}
{{- end }}

{{- define "flotilla-hub.apiTokenSecret" -}}
{{- with .Values.http.apiToken }}
{{- if .existingSecret }}{{ .existingSecret }}{{ else if .value }}{{ include "flotilla-hub.secretName" $ }}{{ end }}
{{- end }}
{{- end }}

{{/* TLS to Temporal: asked for, or implied by a client certificate, a CA or an API key (as the hub does). */}}
{{- define "flotilla-hub.temporalTls" -}}
{{- $tls := .Values.temporal.tls }}
{{- if or $tls.enabled $tls.clientCertSecret $tls.caSecret $tls.serverName (include "flotilla-hub.temporalApiKeySecret" .) }}true{{ end }}
{{- end }}

{{/* Names in the self-signed gateway certificate: the Service's, then the extra hosts. */}}
{{- define "flotilla-hub.hosts" -}}
{{- $svc := include "flotilla-hub.fullname" . }}
{{- $hosts := list $svc (printf "%s.%s" $svc .Release.Namespace) (printf "%s.%s.svc" $svc .Release.Namespace) (printf "%s.%s.svc.cluster.local" $svc .Release.Namespace) }}
{{- concat $hosts .Values.grpc.hosts | uniq | toJson }}
{{- end }}

{{/* Refuses values that cannot work, with what to change. */}}
{{- define "flotilla-hub.validate" -}}
{{- if not (has .Values.store.type (list "filesystem" "s3")) }}
{{- fail (printf "store.type must be \"filesystem\" or \"s3\", got %q" .Values.store.type) }}
{{- end }}
{{- if and (gt (int .Values.replicaCount) 1) (eq .Values.store.type "filesystem") }}
{{- fail (printf "replicaCount is %d but store.type is \"filesystem\": hub replicas share their store, and a filesystem store is one pod's disk. Set store.type=s3 (with store.s3.bucket) or replicaCount=1." (int .Values.replicaCount)) }}
{{- end }}
{{- if and (gt (int .Values.replicaCount) 1) (not .Values.grpc.tls.secretName) }}
{{- fail (printf "replicaCount is %d but grpc.tls.secretName is empty: each replica would make its own self-signed certificate and agents could trust only one. Give the gateway a certificate in a kubernetes.io/tls Secret (grpc.tls.secretName)." (int .Values.replicaCount)) }}
{{- end }}
{{- if eq .Values.store.type "s3" }}
{{- if not .Values.store.s3.bucket }}
{{- fail "store.type is \"s3\" but store.s3.bucket is empty: name the bucket the hub keeps its shared state in." }}
{{- end }}
{{- if not (regexMatch "^https?://[^/\\s]+/?$" .Values.store.s3.endpoint) }}
{{- fail (printf "store.type is \"s3\": store.s3.endpoint must be the S3 endpoint URL, http(s)://host[:port] (e.g. https://s3.eu-west-1.amazonaws.com, http://minio.minio:9000), got %q" .Values.store.s3.endpoint) }}
{{- end }}
{{- if not (include "flotilla-hub.s3CredentialsSecret" .) }}
{{- fail "store.type is \"s3\" but no S3 credentials are given: set store.s3.credentials.existingSecret (keys AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY) or store.s3.credentials.accessKeyId and secretAccessKey." }}
{{- end }}
{{- if and .Values.store.s3.prefix (not (hasSuffix "/" .Values.store.s3.prefix)) }}
{{- fail (printf "store.s3.prefix must end with '/', got %q" .Values.store.s3.prefix) }}
{{- end }}
{{- end }}
{{- with .Values.store.s3.credentials }}
{{- if and (not .existingSecret) (or .accessKeyId .secretAccessKey) (not (and .accessKeyId .secretAccessKey)) }}
{{- fail "store.s3.credentials: give both accessKeyId and secretAccessKey (or existingSecret)." }}
{{- end }}
{{- end }}
{{- if not .Values.temporal.address }}
{{- fail "temporal.address is empty: give the Temporal frontend's host:port (the hub needs Temporal)." }}
{{- end }}
{{- if not (has .Values.log.level (list "debug" "info" "warn" "error")) }}
{{- fail (printf "log.level must be debug, info, warn or error, got %q" .Values.log.level) }}
{{- end }}
{{- end }}
