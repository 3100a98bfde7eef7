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
	CGO_ENABLED=0 go build -trimpath -ldflags "$(VERSION_LDFLAGS)" -o $(BIN)/antrea-issuer ./cmd/antrea-issuer

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
	rm -rf $(DIST)

# ---- Chart, container image and kind e2e (charts/, Dockerfile, hack/e2e-kind.sh) ----
IMAGE ?= antrea-issuer
TAG   ?= dev

GOARCH ?= $(shell go env GOARCH)
.PHONY: image
image: ## Build the binary for linux/$(GOARCH) and the container image $(IMAGE):$(TAG), with a release's labels (needs Docker).
	$(MAKE) release-binaries PLATFORMS=linux/$(GOARCH)
	docker build --platform linux/$(GOARCH) --build-arg TARGETARCH=$(GOARCH) --build-arg VERSION=$(VERSION) \
		--build-arg REVISION=$(COMMIT) --build-arg CREATED=$(CREATED) -t $(IMAGE):$(TAG) .

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

# ---- Release (Dockerfile, hack/ociimage, hack/sbom, e2e/chartpkg, .github/workflows/release.yaml) ----
# `make release` writes everything a release publishes into dist/ and pushes nothing; CI runs it on
# a tag, then `make release-publish`. e2e/release runs `make release` in `make test`.
ifeq ($(origin VERSION),undefined)
VERSION := $(shell git describe --tags --match 'v[0-9]*' --dirty 2>/dev/null || echo "v0.0.0-dev-$$(git rev-parse --short HEAD 2>/dev/null || echo unknown)")
endif
ifeq ($(origin COMMIT),undefined)
COMMIT := $(shell git rev-parse HEAD 2>/dev/null || echo unknown)
endif
# The commit's time dates the images and SBOMs, so that a rebuild of a commit is byte-identical.
ifeq ($(origin SOURCE_DATE_EPOCH),undefined)
SOURCE_DATE_EPOCH := $(shell git log -1 --format=%ct 2>/dev/null || echo 0)
endif
CREATED       ?= $(shell TZ=UTC git log -1 --date=format-local:%Y-%m-%dT%H:%M:%SZ --format=%cd 2>/dev/null || echo 1970-01-01T00:00:00Z)
CHART_VERSION ?= $(patsubst v%,%,$(VERSION))
PLATFORMS     ?= linux/amd64 linux/arm64
DIST          ?= $(CURDIR)/dist
REGISTRY      ?= ghcr.io/antrea-io
IMAGE_REPO    ?= $(REGISTRY)/antrea-issuer
CHART_REPO    ?= oci://$(REGISTRY)/charts
SOURCE_URL    ?= https://github.com/antrea-io/antrea-issuer
CRANE         ?= go run github.com/google/go-containerregistry/cmd/crane@v0.22.1
HELM          ?= go run helm.sh/helm/v3/cmd/helm@v3.22.0
HELM_PUSH_FLAGS ?=
VERSION_LDFLAGS := -X antrea.io/antrea-issuer/internal/version.Version=$(VERSION) -X antrea.io/antrea-issuer/internal/version.Commit=$(COMMIT)

.PHONY: release-binaries
release-binaries: ## Build static, stripped binaries for $(PLATFORMS) into dist/bin/<os>-<arch>/.
	@for p in $(PLATFORMS); do os=$${p%/*}; arch=$${p#*/}; \
		echo "building $(VERSION) for $$os/$$arch"; \
		CGO_ENABLED=0 GOOS=$$os GOARCH=$$arch go build -trimpath -ldflags "-s -w $(VERSION_LDFLAGS)" \
			-o $(DIST)/bin/$$os-$$arch/antrea-issuer ./cmd/antrea-issuer || exit 1; \
	done

.PHONY: release-images
release-images: release-binaries ## Write each platform's image as an OCI layout tar in dist/ (no Docker, nothing pulled).
	@for p in $(PLATFORMS); do os=$${p%/*}; arch=$${p#*/}; \
		go run ./hack/ociimage -binary $(DIST)/bin/$$os-$$arch/antrea-issuer -os $$os -arch $$arch \
			-version $(VERSION) -revision $(COMMIT) -source $(SOURCE_URL) -created $(SOURCE_DATE_EPOCH) \
			-tag $(IMAGE_REPO):$(VERSION) -o $(DIST)/antrea-issuer-$(VERSION)-$$os-$$arch.tar || exit 1; \
		echo "wrote $(DIST)/antrea-issuer-$(VERSION)-$$os-$$arch.tar"; \
	done

.PHONY: release-sbom
release-sbom: release-binaries ## Write an SPDX JSON SBOM of each binary (from its Go build info) into dist/.
	@for p in $(PLATFORMS); do os=$${p%/*}; arch=$${p#*/}; \
		go run ./hack/sbom -binary $(DIST)/bin/$$os-$$arch/antrea-issuer -version $(VERSION) -created $(SOURCE_DATE_EPOCH) \
			-o $(DIST)/antrea-issuer-$(VERSION)-$$os-$$arch.spdx.json || exit 1; \
	done

.PHONY: release-chart
release-chart: ## Package the chart as dist/antrea-issuer-$(CHART_VERSION).tgz, defaulting to the image $(IMAGE_REPO):$(VERSION).
	cd e2e && go run ./chartpkg -chart ../charts/antrea-issuer -version $(CHART_VERSION) -app-version $(VERSION) \
		-image $(IMAGE_REPO) -o $(DIST)

.PHONY: release
release: release-images release-sbom release-chart ## Everything a release publishes, into dist/, with SHA256SUMS (pushes nothing).
	@for p in $(PLATFORMS); do os=$${p%/*}; arch=$${p#*/}; \
		cp $(DIST)/bin/$$os-$$arch/antrea-issuer $(DIST)/antrea-issuer-$(VERSION)-$$os-$$arch; \
	done
	cd $(DIST) && sha256sum antrea-issuer-$(VERSION)-* antrea-issuer-$(CHART_VERSION).tgz > SHA256SUMS
	@cat $(DIST)/SHA256SUMS

.PHONY: release-publish
release-publish: ## Push the images as one multi-arch $(IMAGE_REPO):$(VERSION) and the chart to $(CHART_REPO) (CI; needs registry logins).
	@set -e; refs=""; for p in $(PLATFORMS); do os=$${p%/*}; arch=$${p#*/}; \
		dir=$(DIST)/oci/$$os-$$arch; rm -rf $$dir; mkdir -p $$dir; \
		tar -xf $(DIST)/antrea-issuer-$(VERSION)-$$os-$$arch.tar -C $$dir; \
		$(CRANE) push $$dir $(IMAGE_REPO):$(VERSION)-$$os-$$arch; \
		refs="$$refs -m $(IMAGE_REPO):$(VERSION)-$$os-$$arch"; \
	done; \
	$(CRANE) index append $$refs -t $(IMAGE_REPO):$(VERSION)
	$(HELM) push $(HELM_PUSH_FLAGS) $(DIST)/antrea-issuer-$(CHART_VERSION).tgz $(CHART_REPO)
# ---- end of release ----

# ---- Benchmarks (e2e/bench, docs/benchmarks.md) ----
# The benchmarks live in the e2e module: cert-manager's CA issuer controller, which they compare
# against, is test-only weight the product module does not carry.
BENCH_ARGS ?=
.PHONY: bench
bench: envtest-assets ## Run the benchmarks on a local control plane and print the table (about 30 min; BENCH_ARGS=-quick for a smoke run).
	cd e2e && go run ./bench $(BENCH_ARGS)
# ---- end of benchmarks ----
