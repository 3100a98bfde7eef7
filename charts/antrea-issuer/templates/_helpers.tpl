{{/* Chart name, overridable. */}}
{{- define "antrea-issuer.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Full name of the release's resources: the release name if it holds the chart name. */}}
{{- define "antrea-issuer.fullname" -}}
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

{{- define "antrea-issuer.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Labels that select the controller Pods. */}}
{{- define "antrea-issuer.selectorLabels" -}}
app.kubernetes.io/name: {{ include "antrea-issuer.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{/* Labels of every resource. */}}
{{- define "antrea-issuer.labels" -}}
helm.sh/chart: {{ include "antrea-issuer.chart" . }}
{{ include "antrea-issuer.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{- define "antrea-issuer.serviceAccountName" -}}
{{- default (include "antrea-issuer.fullname" .) .Values.serviceAccount.name }}
{{- end }}

{{/* Namespace of the AntreaClusterIssuers' CA Secrets. */}}
{{- define "antrea-issuer.clusterResourceNamespace" -}}
{{- default .Release.Namespace .Values.clusterResourceNamespace }}
{{- end }}

{{/* The image reference: repository@digest, else repository:tag (tag defaults to appVersion). */}}
{{- define "antrea-issuer.image" -}}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}
{{- end }}

{{/* A ServiceAccount subject for the controller. */}}
{{- define "antrea-issuer.subject" -}}
- kind: ServiceAccount
  name: {{ include "antrea-issuer.serviceAccountName" . }}
  namespace: {{ .Release.Namespace }}
{{- end }}

{{/*
Namespaces other than the release namespace where the controller keeps or reads CA Secrets: the
cluster resource namespace (when not the release namespace) and caSecretNamespaces, without
duplicates, in a stable order.
*/}}
{{- define "antrea-issuer.extraSecretNamespaces" -}}
{{- $out := list }}
{{- range (prepend .Values.caSecretNamespaces (include "antrea-issuer.clusterResourceNamespace" .)) }}
{{- if and (ne . $.Release.Namespace) (not (has . $out)) }}
{{- $out = append $out . }}
{{- end }}
{{- end }}
{{- toJson $out }}
{{- end }}

{{/* Rules for the CA Secrets of issuers (as generated for the controller namespace). */}}
{{- define "antrea-issuer.caSecretRules" -}}
- apiGroups:
  - ""
  resources:
  - secrets
  verbs:
  - create
  - get
  - list
  - update
  - watch
{{- end }}
