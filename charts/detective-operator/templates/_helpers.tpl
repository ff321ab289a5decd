{{/*
The chart name, overridable.
*/}}
{{- define "detective-operator.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
The full name: the release name, prefixed to the chart name unless it already contains it.
Truncated to 63 characters (DNS label).
*/}}
{{- define "detective-operator.fullname" -}}
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

{{- define "detective-operator.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Labels on every object.
*/}}
{{- define "detective-operator.labels" -}}
helm.sh/chart: {{ include "detective-operator.chart" . }}
{{ include "detective-operator.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: detective-operator
{{- end }}

{{/*
Labels that select the operator's pods (immutable in a Deployment: never add to them).
*/}}
{{- define "detective-operator.selectorLabels" -}}
app.kubernetes.io/name: {{ include "detective-operator.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "detective-operator.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "detective-operator.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- required "serviceAccount.name is required when serviceAccount.create is false" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/*
The namespace watched in namespaced mode (rbac.namespaced): watchNamespace, else the release's.
*/}}
{{- define "detective-operator.watchNamespace" -}}
{{- default .Release.Namespace .Values.rbac.watchNamespace }}
{{- end }}

{{- define "detective-operator.leaseName" -}}
{{- default (include "detective-operator.fullname" .) .Values.leaderElection.leaseName }}
{{- end }}

{{- define "detective-operator.image" -}}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}
{{- end }}

{{/*
What the operator may do with its own resources and events, and nothing more: list/watch/get
and patch (finalizers, by JSON patch) on the resources, server-side-apply patches of their
status, and events.k8s.io Events (create, then patch when an event repeats). No Secrets, no
wildcards. Used by the ClusterRole (all namespaces) and by the Role (namespaced mode).
*/}}
{{- define "detective-operator.rules" -}}
- apiGroups:
    - detective.operator.dev
  resources:
    - detectivegraphs
    - detectivememberships
    - detectiveorganizationadmins
  verbs:
    - get
    - list
    - watch
    - patch
# A DetectiveGraphSet's children: created (server-side apply), put back, released and deleted
# by the set's controller.
- apiGroups:
    - detective.operator.dev
  resources:
    - detectivegraphs
  verbs:
    - create
    - delete
- apiGroups:
    - detective.operator.dev
  resources:
    - detectivegraphsets
  verbs:
    - get
    - list
    - watch
# The children's owner reference blocks the set's foreground deletion (blockOwnerDeletion), which
# clusters enforcing OwnerReferencesPermissionEnforcement allow only to who may update this.
- apiGroups:
    - detective.operator.dev
  resources:
    - detectivegraphsets/finalizers
  verbs:
    - update
- apiGroups:
    - detective.operator.dev
  resources:
    - detectivegraphs/status
    - detectivememberships/status
    - detectiveorganizationadmins/status
    - detectivegraphsets/status
  verbs:
    - patch
- apiGroups:
    - events.k8s.io
  resources:
    - events
  verbs:
    - create
    - patch
{{- end }}

{{/*
The labels of one alert: its severity and prometheusRule.alertLabels.
Called with (dict "severity" "warning" "root" $).
*/}}
{{- define "detective-operator.alertLabels" -}}
severity: {{ .severity }}
{{- with .root.Values.prometheusRule.alertLabels }}
{{ toYaml . }}
{{- end }}
{{- end }}
