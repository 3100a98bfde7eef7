# antrea-issuer: build, test and generate. `make help` lists the targets.
SHELL := /usr/bin/env bash -o pipefail
.DEFAULT_GOAL := help

K8S_VERSION     ?= 1.36.3
ETCD_VERSION    ?= 3.6.16
CONTROLLER_GEN  ?= go run sigs.k8s.io/controller-tools/cmd/controller-gen@v0.23.0
ENVTEST_ASSETS  ?= $(CURDIR)/bin/k8s/$(K8S_VERSION)
GO_TEST_FLAGS   ?= -count=1 -timeout 30m
BIN             ?= $(CURDIR)/bin
PROMETHEUS_VERSION ?= v0.316.0

# A fallback to fetching modules from their VCS hangs without internet: use the proxy alone.
export GOPROXY := $(shell go env GOPROXY | sed -e 's/[,|]direct$$//')
export KUBEBUILDER_ASSETS := $(ENVTEST_ASSETS)
export PROMTOOL := $(BIN)/promtool

.PHONY: help
help: ## List the targets.
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z0-9_-]+:.*## / {printf "  %-16s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

.PHONY: build
build: ## Build the antrea-issuer binary into bin/.
	CGO_ENABLED=0 go build -trimpath -o $(BIN)/antrea-issuer ./cmd/antrea-issuer

.PHONY: envtest-assets
envtest-assets: ## Build etcd and kube-apiserver from the module proxy into bin/k8s (cached).
	K8S_VERSION=$(K8S_VERSION) ETCD_VERSION=$(ETCD_VERSION) hack/build-control-plane.sh $(ENVTEST_ASSETS)

.PHONY: promtool
promtool: ## Build promtool (Prometheus' rule tester, for e2e/alerts) from the Prometheus module into bin/ (cached).
	PROMETHEUS_VERSION=$(PROMETHEUS_VERSION) hack/build-promtool.sh $(PROMTOOL)

DEMO_ARGS ?=
.PHONY: demo
demo: envtest-assets ## Run the whole flow on a local control plane and print a report (DEMO_ARGS=-keep to explore).
	@echo "make demo: the first run builds etcd and kube-apiserver from source (about 7 minutes); later runs take seconds."
	cd e2e && go run ./demo $(DEMO_ARGS)

.PHONY: test
test: envtest-assets promtool ## Run every test that runs here: unit, fuzz seeds, integration, local e2e and chart (both modules).
	go test $(GO_TEST_FLAGS) ./...
	cd e2e && go test $(GO_TEST_FLAGS) ./...

.PHONY: generate
generate: ## Regenerate deepcopy, CRDs and RBAC (controller-gen), and the chart's CRDs and values table.
	$(CONTROLLER_GEN) object paths=./issuer/api/...
	$(CONTROLLER_GEN) applyconfiguration paths=./issuer/api/...
	$(CONTROLLER_GEN) crd paths=./issuer/api/... output:crd:artifacts:config=config/crd
	$(CONTROLLER_GEN) rbac:roleName=antrea-issuer paths=./issuer/... output:rbac:artifacts:config=config/rbac
	go run ./hack/chartgen

.PHONY: verify
verify: generate ## Fail on generated-file drift, gofmt or go vet findings.
	@git diff --exit-code -- config issuer/api charts || { echo "generated files are stale: run 'make generate' and commit"; exit 1; }
	@test -z "$$(git status --porcelain -- config issuer/api charts)" || { echo "untracked generated files: run 'make generate' and commit"; git status --porcelain -- config issuer/api charts; exit 1; }
	@out=$$(gofmt -l $$(git ls-files '*.go')); test -z "$$out" || { echo "gofmt needed:"; echo "$$out"; exit 1; }
	go vet ./...
	cd e2e && go vet ./...
	@go mod tidy -diff && (cd e2e && go mod tidy -diff) || { echo "go.mod or go.sum untidy: run 'go mod tidy' in the module above"; exit 1; }

FUZZTIME ?= 10m
.PHONY: fuzz
fuzz: ## Run each fuzz target (signer, issuer) for FUZZTIME (default 10m), one after another.
	@for pkg in ./signer ./issuer; do \
		for target in $$(go test -list '^Fuzz' $$pkg | grep '^Fuzz'); do \
			echo "fuzzing $$pkg $$target for $(FUZZTIME)"; \
			go test $$pkg -run '^$$' -fuzz "^$$target$$" -fuzztime $(FUZZTIME) -parallel 1 || exit 1; \
		done; \
	done

.PHONY: clean
clean: ## Remove build output (keeps the cached control plane in bin/k8s).
	rm -f $(BIN)/antrea-issuer

# ---- Chart, container image and kind e2e (charts/, Dockerfile, hack/e2e-kind.sh) ----
IMAGE ?= antrea-issuer
TAG   ?= dev

.PHONY: image
image: ## Build bin/antrea-issuer for Linux and the container image $(IMAGE):$(TAG) (needs Docker).
	GOOS=linux $(MAKE) build
	docker build -t $(IMAGE):$(TAG) .

.PHONY: e2e-kind
e2e-kind: ## Run the e2e suite on a kind cluster with cert-manager and the chart (needs Docker, kind, helm, kubectl, internet).
	IMAGE=$(IMAGE) TAG=$(TAG) hack/e2e-kind.sh

.PHONY: chart-docs
chart-docs: ## Regenerate the chart's CRD templates (from config/crd) and its README values table.
	go run ./hack/chartgen

.PHONY: helm-lint
helm-lint: ## Lint, render and schema-check the chart with Helm's Go SDK (no helm binary needed).
	cd e2e && go test ./chart -count=1 -run 'TestLint|TestRender|TestSchema|TestGeneratedFilesUpToDate|TestCRDsMatchConfig|TestRBACMatchesGenerated|TestPrometheusRuleRunbookAnchor'

.PHONY: prometheus-operator-crd
prometheus-operator-crd: ## Regenerate e2e/testdata's PrometheusRule CRD from the Prometheus Operator's API module.
	hack/prometheus-operator-crd.sh
# ---- end of chart, image and kind e2e ----

# ---- Benchmarks (e2e/bench, docs/benchmarks.md) ----
# The benchmarks live in the e2e module: cert-manager's CA issuer controller, which they compare
# against, is test-only weight the product module does not carry.
BENCH_ARGS ?=
.PHONY: bench
bench: envtest-assets ## Run the benchmarks on a local control plane and print the table (about 20 min; BENCH_ARGS=-quick for a smoke run).
	cd e2e && go run ./bench $(BENCH_ARGS)
# ---- end of benchmarks ----
