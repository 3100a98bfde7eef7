#!/usr/bin/env bash
# Builds promtool, Prometheus' rule checker and rule unit tester, from the Prometheus Go module into
# bin/promtool, for the alert tests in e2e/alerts. Prometheus publishes no promtool module of its
# own; `go install` of its cmd/promtool works because its go.mod has no replace directives.
#
# Usage: hack/build-promtool.sh [OUT_FILE]
# Skips the build when OUT_FILE already reports the pinned version. The binary is built to a
# temporary folder and moved into place only once complete.
set -euo pipefail

VERSION="${PROMETHEUS_VERSION:-v0.316.0}"
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
OUT="${1:-${ROOT}/bin/promtool}"

# A fallback to fetching modules straight from their VCS hangs without internet: use the proxy alone.
GOPROXY="$(go env GOPROXY | sed -e 's/[,|]direct$//' -e 's/^direct$/off/')"
export GOPROXY GOFLAGS=-mod=mod GOWORK=off CGO_ENABLED=0

log() { echo "build-promtool: $*" >&2; }

if [ -x "${OUT}" ] && out="$("${OUT}" --version 2>/dev/null)" && [[ "${out}" == *"version ${VERSION} "* ]]; then
  log "promtool ${VERSION} cached"
  exit 0
fi
log "building promtool from github.com/prometheus/prometheus@${VERSION} (the first build took 14 minutes on 2 busy cores)"
WORK="$(mktemp -d)"
trap 'rm -rf "${WORK}"' EXIT
mkdir -p "$(dirname "${OUT}")"
GOBIN="${WORK}" go install -trimpath \
  -ldflags "-s -w -X github.com/prometheus/common/version.Version=${VERSION}" \
  "github.com/prometheus/prometheus/cmd/promtool@${VERSION}"
mv -f "${WORK}/promtool" "${OUT}"
log "promtool ready: ${OUT}"
