{{/*
The issuer an alert is about, in Prometheus' alert template language: "AntreaClusterIssuer
<name>" or "AntreaIssuer <namespace>/<name>". The issuer's namespace is in `exported_namespace`
when Prometheus scraped with honorLabels false (the scrape target's namespace then takes
`namespace`).
*/}}
{{- define "antrea-issuer.alertIssuer" -}}
{{`{{ $labels.kind }} {{ if eq $labels.kind "AntreaIssuer" }}{{ with $labels.exported_namespace }}{{ . }}{{ else }}{{ $labels.namespace }}{{ end }}/{{ end }}{{ $labels.name }}`}}
{{- end }}

{{/* A duration of one unit (30m, 1h, 7d, 2w) in seconds, for a PromQL comparison. */}}
{{- define "antrea-issuer.seconds" -}}
{{- $d := toString . }}
{{- $n := regexFind "^[0-9]+" $d }}
{{- $units := dict "s" 1 "m" 60 "h" 3600 "d" 86400 "w" 604800 }}
{{- $unit := trimPrefix $n $d }}
{{- if or (not $n) (not (hasKey $units $unit)) }}
{{- fail (printf "%q is not a duration of one unit such as 30m, 1h or 7d" $d) }}
{{- end }}
{{- mul (int64 $n) (get $units $unit) }}
{{- end }}
