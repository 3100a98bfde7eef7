#!/usr/bin/env bash
# End-to-end test on a kind cluster: creates the cluster, installs cert-manager with its Helm chart,
# builds the antrea-issuer image and loads it into kind, installs charts/antrea-issuer, optionally
# installs Antrea (as the CNI, with selfSignedCert=false), waits until Antrea's Certificate is Ready,
# then runs the e2e suite in cluster mode against the cluster. The cluster is deleted at the end
# unless KEEP_CLUSTER=1.
#
# Needs Docker, kind, helm, kubectl, Go, make and internet access (charts and images are pulled).
#
# Usage: hack/e2e-kind.sh            (or: make e2e-kind)
# Environment:
#   KIND_CLUSTER_NAME         cluster name (default antrea-issuer-e2e)
#   KIND_NODE_IMAGE           kind node image (default: the one of your kind release)
#   KEEP_CLUSTER=1            keep the cluster and its kubeconfig after the run
#   E2E_KUBECONFIG_PATH       where to write the cluster's kubeconfig (default: a temporary file;
#                             your ~/.kube/config is never touched)
#   CERT_MANAGER_VERSION      cert-manager chart version (default v1.21.2)
#   E2E_INSTALL_ANTREA=1      install Antrea too (kind's own CNI is then disabled)
#   ANTREA_VERSION            Antrea chart version (default 2.4.0)
#   IMAGE, TAG                image built by `make image` and loaded into kind (antrea-issuer:dev)
#   E2E_CA_SECRET_NAMESPACES  comma list for the chart's caSecretNamespaces (default
#                             antrea-e2e-team, the namespace the e2e suite's AntreaIssuer uses)
#   GO_TEST_FLAGS             extra flags for `go test` (for example `-run TestAntrea`)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "${ROOT}"

CLUSTER="${KIND_CLUSTER_NAME:-antrea-issuer-e2e}"
KIND_NODE_IMAGE="${KIND_NODE_IMAGE:-}"
KEEP_CLUSTER="${KEEP_CLUSTER:-0}"
CERT_MANAGER_VERSION="${CERT_MANAGER_VERSION:-v1.21.2}"
E2E_INSTALL_ANTREA="${E2E_INSTALL_ANTREA:-0}"
ANTREA_VERSION="${ANTREA_VERSION:-2.4.0}"
IMAGE="${IMAGE:-antrea-issuer}"
TAG="${TAG:-dev}"
E2E_CA_SECRET_NAMESPACES="${E2E_CA_SECRET_NAMESPACES-antrea-e2e-team}"
GO_TEST_FLAGS="${GO_TEST_FLAGS:-}"
ISSUER_NAMESPACE=antrea-issuer
ANTREA_NAMESPACE=kube-system

log() { printf '\n==> %s\n' "$*" >&2; }
die() { printf 'e2e-kind: %s\n' "$*" >&2; exit 1; }

check_tools() {
  local missing=0 tool hint
  while IFS='|' read -r tool hint; do
    if ! command -v "${tool}" >/dev/null 2>&1; then
      printf 'e2e-kind: %s is missing: %s\n' "${tool}" "${hint}" >&2
      missing=1
    fi
  done <<'TOOLS'
docker|install Docker Engine or Docker Desktop: https://docs.docker.com/get-docker/
kind|go install sigs.k8s.io/kind@v0.33.0 (or https://kind.sigs.k8s.io/docs/user/quick-start/#installation)
helm|go install helm.sh/helm/v3/cmd/helm@v3.22.0 (or https://helm.sh/docs/intro/install/)
kubectl|https://kubernetes.io/docs/tasks/tools/
go|https://go.dev/doc/install
make|your distribution's make package (apt-get install make, xcode-select --install, ...)
TOOLS
  [ "${missing}" -eq 0 ] || die "install the missing tools and run again"
  docker info >/dev/null 2>&1 || die "docker does not answer: is the daemon running, and may this user use it?"
}

# On failure, show what a user would look at first; then delete the cluster unless asked to keep it.
cleanup() {
  local rc=$?
  set +e
  if [ "${rc}" -ne 0 ] && [ -s "${KUBECONFIG}" ]; then
    log "failed (exit ${rc}): state of the cluster"
    kubectl get pods -A -o wide
    kubectl get antreaclusterissuers,antreaissuers -A -o wide
    kubectl -n "${ANTREA_NAMESPACE}" describe certificate antrea-controller-tls
    kubectl get certificaterequests -A
    kubectl -n "${ISSUER_NAMESPACE}" logs deployment/antrea-issuer --tail=100
  fi
  if [ "${KEEP_CLUSTER}" = 1 ]; then
    log "keeping cluster ${CLUSTER}: export KUBECONFIG=${KUBECONFIG}; delete it with: kind delete cluster --name ${CLUSTER}"
  else
    log "deleting cluster ${CLUSTER}"
    kind delete cluster --name "${CLUSTER}"
    [ -n "${E2E_KUBECONFIG_PATH:-}" ] || rm -f "${KUBECONFIG}"
  fi
  exit "${rc}"
}

check_tools
if kind get clusters 2>/dev/null | grep -x "${CLUSTER}" >/dev/null; then # not -q: see build-control-plane.sh
  die "a kind cluster named ${CLUSTER} exists: delete it (kind delete cluster --name ${CLUSTER}) or set KIND_CLUSTER_NAME"
fi

# Every kubectl, helm and go test below talks to this cluster only.
KUBECONFIG="${E2E_KUBECONFIG_PATH:-$(mktemp "${TMPDIR:-/tmp}/antrea-issuer-e2e-kubeconfig.XXXXXX")}"
export KUBECONFIG
trap cleanup EXIT

create_args=(--name "${CLUSTER}" --kubeconfig "${KUBECONFIG}")
[ -z "${KIND_NODE_IMAGE}" ] || create_args+=(--image "${KIND_NODE_IMAGE}")
if [ "${E2E_INSTALL_ANTREA}" = 1 ]; then
  # Nodes stay NotReady until Antrea, the CNI, runs: do not wait for them here.
  create_args+=(--config "${ROOT}/hack/kind-config.yaml")
else
  create_args+=(--wait 3m)
fi
log "creating kind cluster ${CLUSTER}"
kind create cluster "${create_args[@]}"

if [ "${E2E_INSTALL_ANTREA}" = 1 ]; then
  # Antrea first: it is the CNI every other pod needs. With selfSignedCert=false antrea-controller
  # waits for the Secret cert-manager writes (and restarts until then), so no --wait here.
  log "installing Antrea ${ANTREA_VERSION} with controller.selfSignedCert=false"
  helm install antrea antrea --repo https://charts.antrea.io --version "${ANTREA_VERSION}" \
    --namespace "${ANTREA_NAMESPACE}" --set controller.selfSignedCert=false
  kubectl wait --for=condition=Ready nodes --all --timeout=5m
fi

log "installing cert-manager ${CERT_MANAGER_VERSION}"
helm install cert-manager cert-manager --repo https://charts.jetstack.io --version "${CERT_MANAGER_VERSION}" \
  --namespace cert-manager --create-namespace --set crds.enabled=true --wait --timeout 5m

log "building ${IMAGE}:${TAG} and loading it into kind"
make image IMAGE="${IMAGE}" TAG="${TAG}"
kind load docker-image "${IMAGE}:${TAG}" --name "${CLUSTER}"

issuer_args=(--namespace "${ISSUER_NAMESPACE}" --create-namespace
  --set image.repository="${IMAGE}" --set image.tag="${TAG}" --set image.pullPolicy=Never)
if [ -n "${E2E_CA_SECRET_NAMESPACES}" ]; then
  # The chart puts a Role in each of these namespaces, so they must exist first.
  IFS=',' read -r -a ca_namespaces <<<"${E2E_CA_SECRET_NAMESPACES}"
  for ns in "${ca_namespaces[@]}"; do
    kubectl create namespace "${ns}" --dry-run=client -o yaml | kubectl apply -f -
  done
  issuer_args+=(--set "caSecretNamespaces={${E2E_CA_SECRET_NAMESPACES}}")
fi
log "installing charts/antrea-issuer"
helm install antrea-issuer "${ROOT}/charts/antrea-issuer" "${issuer_args[@]}" --wait --timeout 5m

log "waiting for Antrea's Certificate"
kubectl -n "${ANTREA_NAMESPACE}" wait certificate/antrea-controller-tls --for=condition=Ready --timeout=3m
kubectl get antreaclusterissuers -o wide

if [ "${E2E_INSTALL_ANTREA}" = 1 ]; then
  # antrea-controller may be in a restart back-off from waiting for the Secret: restart it now.
  log "waiting for Antrea to serve with the issued certificate"
  kubectl -n "${ANTREA_NAMESPACE}" rollout restart deployment/antrea-controller
  kubectl -n "${ANTREA_NAMESPACE}" rollout status deployment/antrea-controller --timeout=5m
  kubectl -n "${ANTREA_NAMESPACE}" rollout status daemonset/antrea-agent --timeout=5m
  kubectl get apiservices -l app=antrea
fi

log "running the e2e suite against ${CLUSTER}"
# GO_TEST_FLAGS is a list of flags: split on purpose.
# shellcheck disable=SC2086
(cd e2e && E2E_MODE=cluster go test . -count=1 -v ${GO_TEST_FLAGS})
