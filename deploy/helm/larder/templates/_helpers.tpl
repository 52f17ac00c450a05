{{/*
The prefix of every object's name: the release name, or <release>-larder when the
release name does not already say larder.
*/}}
{{- define "larder.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 40 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 40 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 40 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/*
The components: folder under apps/, the values key, which listeners they have (a
larder.yaml port key each) and whom they call. One table, so every template agrees.
*/}}
{{- define "larder.components" -}}
registry:
  values: registry
  main: apps/registry/src/main.ts
  ports: { grpc: grpc.port, metrics: metrics.port }
  calls: []
online-serving:
  values: onlineServing
  main: apps/online-serving/src/main.ts
  ports: { grpc: grpc.port, metrics: metrics.port, http: http.port }
  calls: [registry]
offline-retrieval:
  values: offlineRetrieval
  main: apps/offline-retrieval/src/main.ts
  ports: { grpc: grpc.port, metrics: metrics.port }
  calls: [registry]
materialization:
  values: materialization
  main: apps/materialization/src/main.ts
  ports: { grpc: grpc.port, metrics: metrics.port }
  calls: [registry]
ingestion:
  values: ingestion
  main: apps/ingestion/src/main.ts
  ports: { grpc: grpc.port, metrics: metrics.port, http: http.port }
  calls: [registry]
ui:
  values: ui
  main: apps/ui/src/server/main.ts
  ports: { http: ui.port }
  calls: [registry, offline-retrieval, materialization, ingestion]
{{- end -}}

{{/* Labels of one component's objects; selector labels are the first two. */}}
{{- define "larder.selectorLabels" -}}
app.kubernetes.io/name: {{ .component }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
{{- end -}}

{{- define "larder.labels" -}}
{{ include "larder.selectorLabels" . }}
app.kubernetes.io/part-of: larder
app.kubernetes.io/component: {{ .component }}
app.kubernetes.io/version: {{ .root.Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .root.Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .root.Chart.Name .root.Chart.Version }}
{{- end -}}

{{/* A value at a dotted larder.yaml key ("grpc.port") of a config map. */}}
{{- define "larder.configValue" -}}
{{- $node := .config -}}
{{- range $part := splitList "." .key -}}
{{- $node = index $node $part -}}
{{- end -}}
{{- $node -}}
{{- end -}}

{{/*
The larder.yaml of one component: what the chart itself must set (TLS files where the
Secret is mounted, the projected token, the other services' addresses, listeners on all
interfaces), then the shared `config`, then the component's own `config`. The UI signs
people in, so an `auth` block of its own replaces the shared one rather than merging.
*/}}
{{- define "larder.componentConfig" -}}
{{- $root := .root -}}
{{- $fullname := include "larder.fullname" $root -}}
{{- $components := include "larder.components" $root | fromYaml -}}
{{- $own := index $root.Values (index $components .component).values -}}
{{- $ownConfig := default (dict) $own.config -}}
{{- $derived := dict "bind" (dict "host" "0.0.0.0") -}}
{{- if $root.Values.tls.secretName -}}
{{- $tls := dict "certFile" "/var/run/larder/tls/tls.crt" "keyFile" "/var/run/larder/tls/tls.key" -}}
{{- if and $root.Values.tls.clientCerts (ne .component "ui") -}}
{{- /* Browsers bring no client certificate: the UI's listener never asks for one. */ -}}
{{- $_ := set $tls "clientCaFile" "/var/run/larder/tls/ca.crt" -}}
{{- $_ := set $tls "requireClientCert" $root.Values.tls.requireClientCerts -}}
{{- end -}}
{{- $_ := set $derived "tls" $tls -}}
{{- $_ := set $derived "client" (dict "tls" (dict "caFile" "/var/run/larder/tls/ca.crt")) -}}
{{- end -}}
{{- if and (eq .component "ui") $own.sessionKeySecret -}}
{{- $_ := set $derived "ui" (dict "sessionKeyFile" "/var/run/larder/ui-session/session.key") -}}
{{- end -}}
{{- range $callee := (index $components .component).calls -}}
{{- $calleeValues := index $root.Values (index $components $callee).values -}}
{{- $address := printf "%s-%s:%v" $fullname $callee (include "larder.configValue" (dict "config" $calleeValues.config "key" "grpc.port")) -}}
{{- $_ := set $derived (index $components $callee).values (dict "address" $address) -}}
{{- end -}}
{{- $shared := deepCopy $root.Values.config -}}
{{- if and (eq .component "ui") (hasKey $ownConfig "auth") -}}
{{- $_ := unset $shared "auth" -}}
{{- end -}}
{{- $merged := mergeOverwrite (deepCopy $derived) $shared (deepCopy $ownConfig) -}}
{{- $modes := dig "auth" "modes" (list) $merged -}}
{{- /* Calls to the other services carry the pod's projected token; the UI in mode none
       must not (it would show every visitor what that token may see). */ -}}
{{- if or (ne .component "ui") (has "oidc" $modes) -}}
{{- $client := default (dict) (get $merged "client") -}}
{{- if not (get $client "tokenFile") -}}
{{- $_ := set $client "tokenFile" "/var/run/larder/identity/token" -}}
{{- end -}}
{{- $_ := set $merged "client" $client -}}
{{- end -}}
{{- /* The API server's keys are fetched over TLS signed by the cluster CA. */ -}}
{{- $oidc := dig "auth" "oidc" (dict) $merged -}}
{{- if and (has "oidc" $modes) (hasPrefix "https://kubernetes.default.svc" (toString (get $oidc "issuer"))) (not (get $oidc "caFile")) -}}
{{- $_ := set $oidc "caFile" "/var/run/larder/identity/ca.crt" -}}
{{- end -}}
{{- toYaml $merged -}}
{{- end -}}
