#!/usr/bin/env bash
# Builds etcd and kube-apiserver (and kubectl) from the Go module proxy into a versioned cache folder,
# for envtest (KUBEBUILDER_ASSETS). setup-envtest cannot be used: its download bucket is not reachable
# from the machines this project is built on, while the module proxy is.
#
# Usage: hack/build-control-plane.sh [OUT_DIR]
# Skips the build when OUT_DIR already holds binaries that report the pinned versions. Every binary is
# built to a temporary name and renamed into place only once complete, so an interrupted build never
# leaves a file that a later run would count as cached.
set -euo pipefail

K8S_VERSION="${K8S_VERSION:-1.36.3}"
ETCD_VERSION="${ETCD_VERSION:-3.6.16}"
STAGING_VERSION="v0.${K8S_VERSION#1.}"
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
OUT="${1:-${ROOT}/bin/k8s/${K8S_VERSION}}"

# A fallback to fetching modules straight from their VCS hangs without internet: use the proxy alone.
GOPROXY="$(go env GOPROXY | sed -e 's/[,|]direct$//' -e 's/^direct$/off/')"
export GOPROXY GOFLAGS=-mod=mod GOWORK=off CGO_ENABLED=0

log() { echo "build-control-plane: $*" >&2; }

have() { # have BINARY WANTED_VERSION_STRING
  local args=(--version)
  [ "$1" = kubectl ] && args=(version --client)
  # The output is captured, not piped into `grep -q`: grep would exit at the first match, the
  # binary's next write would meet SIGPIPE, and with pipefail a cached binary would count as
  # missing (kubectl prints two lines).
  local out
  [ -x "${OUT}/$1" ] && out="$("${OUT}/$1" "${args[@]}" 2>/dev/null)" && [[ "${out}" == *"$2"* ]]
}

mkdir -p "${OUT}"
WORK="$(mktemp -d)"
trap 'rm -rf "${WORK}"; rm -f "${OUT}"/.*.partial' EXIT

build_etcd() {
  if have etcd "etcd Version: ${ETCD_VERSION}"; then log "etcd ${ETCD_VERSION} cached"; return; fi
  log "building etcd v${ETCD_VERSION} (about 1-2 minutes on 2 cores)"
  mkdir -p "${WORK}/etcd"
  cd "${WORK}/etcd"
  cat > main.go <<'GO'
// Command etcd is etcd's own main, built outside etcd's repository (its go.mod has replace
// directives, so `go install` of the server module is refused).
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() { etcdmain.Main(os.Args) }
GO
  go mod init local/etcd >/dev/null 2>&1
  for m in server api client/pkg client/v3 pkg; do
    case "$m" in
      client/v3) go mod edit -require="go.etcd.io/etcd/client/v3@v${ETCD_VERSION}" ;;
      *) go mod edit -require="go.etcd.io/etcd/${m}/v3@v${ETCD_VERSION}" ;;
    esac
  done
  go mod tidy >/dev/null
  go build -trimpath -o "${OUT}/.etcd.partial" .
  mv -f "${OUT}/.etcd.partial" "${OUT}/etcd"
  cd "${ROOT}"
}

build_kube() {
  if have kube-apiserver "v${K8S_VERSION}" && have kubectl "v${K8S_VERSION}"; then
    log "kube-apiserver and kubectl v${K8S_VERSION} cached"; return
  fi
  log "building kube-apiserver and kubectl v${K8S_VERSION} (about 5-6 minutes on 2 cores)"
  local dir="${WORK}/kube"
  mkdir -p "${dir}/kube-apiserver" "${dir}/kubectl" "${dir}/stubs"
  cd "${dir}"
  go mod init local/kube >/dev/null 2>&1
  go mod edit -require="k8s.io/kubernetes@v${K8S_VERSION}"
  local kmod
  kmod="$(go mod download -json "k8s.io/kubernetes@v${K8S_VERSION}" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')"
  [ -d "${kmod}" ] || { log "could not download k8s.io/kubernetes@v${K8S_VERSION}"; exit 1; }
  cp "${kmod}/cmd/kube-apiserver/apiserver.go" kube-apiserver/main.go
  cp "${kmod}/cmd/kubectl/kubectl.go" kubectl/main.go
  chmod u+w kube-apiserver/main.go kubectl/main.go
  # k8s's go.mod maps each staging module to ./staging, which the module zip lacks: map them to the
  # published versions instead. The sample-* modules have no published version and are never imported.
  local m
  for m in $(sed -n 's#^[[:space:]]*\(k8s.io/[a-z0-9-]*\) => ./staging/.*#\1#p' "${kmod}/go.mod"); do
    case "$m" in
      k8s.io/sample-*)
        mkdir -p "stubs/${m#k8s.io/}"
        printf 'module %s\n\ngo 1.24\n' "$m" > "stubs/${m#k8s.io/}/go.mod"
        go mod edit -replace="${m}=./stubs/${m#k8s.io/}" ;;
      *) go mod edit -replace="${m}=${m}@${STAGING_VERSION}" ;;
    esac
  done
  go mod tidy >/dev/null
  # Without these the binaries report v0.0.0, which envtest and kubectl version checks dislike.
  local ld="-s -w" p minor
  minor="$(echo "${K8S_VERSION}" | cut -d. -f2)"
  for p in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    ld="${ld} -X ${p}.gitVersion=v${K8S_VERSION} -X ${p}.gitMajor=1 -X ${p}.gitMinor=${minor}"
    ld="${ld} -X ${p}.gitTreeState=clean"
  done
  go build -trimpath -ldflags "${ld}" -o "${OUT}/.kube-apiserver.partial" ./kube-apiserver
  mv -f "${OUT}/.kube-apiserver.partial" "${OUT}/kube-apiserver"
  go build -trimpath -ldflags "${ld}" -o "${OUT}/.kubectl.partial" ./kubectl
  mv -f "${OUT}/.kubectl.partial" "${OUT}/kubectl"
  cd "${ROOT}"
}

build_etcd
build_kube
log "control plane ready in ${OUT}"
