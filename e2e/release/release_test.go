// Package release_test runs what a maintainer runs to publish a release, `make release`, into a
// temporary folder (nothing is pushed), and reads every artifact back: the static, stripped
// binaries of both architectures, the OCI image tarballs (labels, user, entrypoint, the layer
// holding exactly the binary, every digest), the Dockerfile carrying the same settings, the SBOMs,
// the packaged chart defaulting to the published image, and SHA256SUMS.
package release_test

import (
	"archive/tar"
	"bufio"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"debug/buildinfo"
	"debug/elf"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"helm.sh/helm/v3/pkg/action"
	"helm.sh/helm/v3/pkg/chart/loader"
	"helm.sh/helm/v3/pkg/chartutil"

	"antrea.io/antrea-issuer/internal/testenv"
)

// What the test releases: fixed, so every artifact can be checked exactly.
const (
	version   = "v0.0.0-test.1"
	commit    = "0123456789abcdef0123456789abcdef01234567"
	epoch     = "1700000000" // 2023-11-14T22:13:20Z
	created   = "2023-11-14T22:13:20Z"
	imageRepo = "registry.example/antrea/antrea-issuer"
)

var arches = map[string]elf.Machine{"amd64": elf.EM_X86_64, "arm64": elf.EM_AARCH64}

// makeRelease runs a make target of the repository with the test's release variables.
func makeRelease(t *testing.T, dist string, args ...string) {
	t.Helper()
	cmd := exec.Command("make", append([]string{"-C", testenv.RepoRoot(), "DIST=" + dist, "VERSION=" + version,
		"COMMIT=" + commit, "SOURCE_DATE_EPOCH=" + epoch, "CREATED=" + created, "IMAGE_REPO=" + imageRepo}, args...)...)
	start := time.Now()
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("make %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	t.Logf("make %s: %s", strings.Join(args, " "), time.Since(start).Round(time.Second))
}

func TestRelease(t *testing.T) {
	dist := t.TempDir()
	makeRelease(t, dist, "release")

	for arch, machine := range arches {
		bin := filepath.Join(dist, "bin", "linux-"+arch, "antrea-issuer")
		t.Run("binary "+arch, func(t *testing.T) { checkBinary(t, bin, arch, machine) })
		t.Run("image "+arch, func(t *testing.T) {
			checkImage(t, filepath.Join(dist, fmt.Sprintf("antrea-issuer-%s-linux-%s.tar", version, arch)), bin, arch)
		})
		t.Run("sbom "+arch, func(t *testing.T) {
			checkSBOM(t, filepath.Join(dist, fmt.Sprintf("antrea-issuer-%s-linux-%s.spdx.json", version, arch)), bin)
		})
	}
	t.Run("version and first log line", func(t *testing.T) {
		if runtime.GOOS != "linux" || arches[runtime.GOARCH] == 0 {
			t.Skipf("cannot run a linux binary on %s/%s", runtime.GOOS, runtime.GOARCH)
		}
		checkVersion(t, filepath.Join(dist, "bin", "linux-"+runtime.GOARCH, "antrea-issuer"))
	})
	t.Run("Dockerfile", func(t *testing.T) {
		checkDockerfile(t, filepath.Join(dist, fmt.Sprintf("antrea-issuer-%s-linux-amd64.tar", version)))
	})
	t.Run("chart", func(t *testing.T) { checkChart(t, filepath.Join(dist, "antrea-issuer-0.0.0-test.1.tgz")) })
	t.Run("SHA256SUMS", func(t *testing.T) { checkSums(t, dist) })

	// A second build of the same commit writes the same image, byte for byte.
	t.Run("reproducible image", func(t *testing.T) {
		again := t.TempDir()
		makeRelease(t, again, "release-images", "PLATFORMS=linux/amd64")
		name := fmt.Sprintf("antrea-issuer-%s-linux-amd64.tar", version)
		a, b := readFile(t, filepath.Join(dist, name)), readFile(t, filepath.Join(again, name))
		if !bytes.Equal(a, b) {
			t.Errorf("two builds of one commit differ: %s vs %s", digest(a), digest(b))
		}
	})
}

func readFile(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func digest(b []byte) string {
	sum := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(sum[:])
}

// checkBinary: a static ELF for arch, without symbols or DWARF (-s -w), built with
// CGO_ENABLED=0, -trimpath and the version and commit set by the linker.
func checkBinary(t *testing.T, path, arch string, machine elf.Machine) {
	f, err := elf.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if f.Machine != machine {
		t.Errorf("machine %v, want %v", f.Machine, machine)
	}
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP || p.Type == elf.PT_DYNAMIC {
			t.Errorf("not static: program header %v", p.Type)
		}
	}
	for _, name := range []string{".symtab", ".debug_info", ".zdebug_info"} {
		if f.Section(name) != nil {
			t.Errorf("not stripped: section %s present", name)
		}
	}
	info, err := buildinfo.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	settings := map[string]string{}
	for _, s := range info.Settings {
		settings[s.Key] = s.Value
	}
	for k, want := range map[string]string{"CGO_ENABLED": "0", "-trimpath": "true", "GOOS": "linux", "GOARCH": arch} {
		if settings[k] != want {
			t.Errorf("build setting %s = %q, want %q", k, settings[k], want)
		}
	}
	// Go does not record -ldflags with -trimpath; the strings the linker set are in the binary.
	data := readFile(t, path)
	for _, want := range []string{version, commit} {
		if !bytes.Contains(data, []byte(want)) {
			t.Errorf("the binary does not hold %q (set with -ldflags -X)", want)
		}
	}
}

// checkVersion runs the binary: --version prints version and commit; a run's first log line
// carries them (the run then fails at once: no kubeconfig).
func checkVersion(t *testing.T, bin string) {
	out, err := exec.Command(bin, "--version").CombinedOutput()
	if err != nil {
		t.Fatalf("--version: %v\n%s", err, out)
	}
	if want := "antrea-issuer " + version + " (commit " + commit + ", "; !strings.HasPrefix(string(out), want) {
		t.Errorf("--version printed %q, want it to start with %q", out, want)
	}
	cmd := exec.Command(bin, "--kubeconfig="+filepath.Join(t.TempDir(), "missing"))
	out, _ = cmd.CombinedOutput()
	first, _, _ := strings.Cut(string(out), "\n")
	var line map[string]any
	if err := json.Unmarshal([]byte(first), &line); err != nil {
		t.Fatalf("first log line %q: %v", first, err)
	}
	if line["version"] != version || line["commit"] != commit {
		t.Errorf("first log line %s lacks version %s and commit %s", first, version, commit)
	}
}

// image is what an OCI layout tar holds: its files by name.
type image map[string][]byte

func readTar(t *testing.T, r io.Reader) image {
	t.Helper()
	files := image{}
	tr := tar.NewReader(r)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return files
		}
		if err != nil {
			t.Fatal(err)
		}
		if h.Typeflag == tar.TypeReg {
			b, err := io.ReadAll(tr)
			if err != nil {
				t.Fatal(err)
			}
			files[h.Name] = b
		}
	}
}

type descriptor struct {
	MediaType   string            `json:"mediaType"`
	Digest      string            `json:"digest"`
	Size        int64             `json:"size"`
	Annotations map[string]string `json:"annotations"`
	Platform    *struct {
		Architecture string `json:"architecture"`
		OS           string `json:"os"`
	} `json:"platform"`
}

// blob returns the blob d points at, checking its size and digest.
func (img image) blob(t *testing.T, d descriptor) []byte {
	t.Helper()
	b, ok := img["blobs/sha256/"+strings.TrimPrefix(d.Digest, "sha256:")]
	if !ok {
		t.Fatalf("blob %s missing", d.Digest)
	}
	if int64(len(b)) != d.Size || digest(b) != d.Digest {
		t.Fatalf("blob %s: size %d digest %s, descriptor says %d", d.Digest, len(b), digest(b), d.Size)
	}
	return b
}

type imageConfig struct {
	Architecture string `json:"architecture"`
	OS           string `json:"os"`
	Config       struct {
		User       string            `json:"User"`
		Entrypoint []string          `json:"Entrypoint"`
		Labels     map[string]string `json:"Labels"`
	} `json:"config"`
	RootFS struct {
		DiffIDs []string `json:"diff_ids"`
	} `json:"rootfs"`
}

var wantLabels = map[string]string{
	"org.opencontainers.image.title":       "antrea-issuer",
	"org.opencontainers.image.description": "cert-manager external issuer for Antrea's controller certificate, and the CA bundle sync",
	"org.opencontainers.image.version":     version,
	"org.opencontainers.image.revision":    commit,
	"org.opencontainers.image.source":      "https://github.com/antrea-io/antrea-issuer",
	"org.opencontainers.image.licenses":    "Apache-2.0",
	"org.opencontainers.image.created":     created,
}

// imageOf reads an OCI layout tar down to its single image's config.
func imageOf(t *testing.T, path string) (image, descriptor, imageConfig) {
	t.Helper()
	img := readTar(t, bytes.NewReader(readFile(t, path)))
	if got := string(img["oci-layout"]); got != `{"imageLayoutVersion":"1.0.0"}` {
		t.Errorf("oci-layout = %q", got)
	}
	var index struct {
		SchemaVersion int          `json:"schemaVersion"`
		Manifests     []descriptor `json:"manifests"`
	}
	if err := json.Unmarshal(img["index.json"], &index); err != nil || index.SchemaVersion != 2 || len(index.Manifests) != 1 {
		t.Fatalf("index.json %s (%v)", img["index.json"], err)
	}
	var manifest struct {
		MediaType string       `json:"mediaType"`
		Config    descriptor   `json:"config"`
		Layers    []descriptor `json:"layers"`
	}
	if err := json.Unmarshal(img.blob(t, index.Manifests[0]), &manifest); err != nil {
		t.Fatal(err)
	}
	if manifest.MediaType != "application/vnd.oci.image.manifest.v1+json" || manifest.Config.MediaType != "application/vnd.oci.image.config.v1+json" || len(manifest.Layers) != 1 {
		t.Fatalf("manifest %+v", manifest)
	}
	var cfg imageConfig
	if err := json.Unmarshal(img.blob(t, manifest.Config), &cfg); err != nil {
		t.Fatal(err)
	}
	return img, manifest.Layers[0], cfg
}

func checkImage(t *testing.T, path, bin, arch string) {
	img, layer, cfg := imageOf(t, path)
	if cfg.Architecture != arch || cfg.OS != "linux" {
		t.Errorf("platform %s/%s, want linux/%s", cfg.OS, cfg.Architecture, arch)
	}
	if cfg.Config.User != "65532:65532" || !slices.Equal(cfg.Config.Entrypoint, []string{"/antrea-issuer"}) {
		t.Errorf("user %q entrypoint %q", cfg.Config.User, cfg.Config.Entrypoint)
	}
	if !maps.Equal(cfg.Config.Labels, wantLabels) {
		t.Errorf("labels:\n got %v\nwant %v", cfg.Config.Labels, wantLabels)
	}
	// The layer: exactly the binary at /antrea-issuer, executable; its diff ID is the config's.
	zr, err := gzip.NewReader(bytes.NewReader(img.blob(t, layer)))
	if err != nil {
		t.Fatal(err)
	}
	raw, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.RootFS.DiffIDs) != 1 || cfg.RootFS.DiffIDs[0] != digest(raw) {
		t.Errorf("diff_ids %v, layer %s", cfg.RootFS.DiffIDs, digest(raw))
	}
	tr := tar.NewReader(bytes.NewReader(raw))
	h, err := tr.Next()
	if err != nil {
		t.Fatal(err)
	}
	content, _ := io.ReadAll(tr)
	if h.Name != "antrea-issuer" || h.Mode != 0o755 || h.Uid != 0 || !bytes.Equal(content, readFile(t, bin)) {
		t.Errorf("layer entry %s mode %o uid %d, %d bytes: want the binary at /antrea-issuer, 0755", h.Name, h.Mode, h.Uid, len(content))
	}
	if _, err := tr.Next(); err != io.EOF {
		t.Errorf("the layer holds more than the binary (%v)", err)
	}
	// docker load reads manifest.json and tags the image.
	var dm []struct {
		Config   string
		RepoTags []string
		Layers   []string
	}
	if err := json.Unmarshal(img["manifest.json"], &dm); err != nil || len(dm) != 1 {
		t.Fatalf("manifest.json %s (%v)", img["manifest.json"], err)
	}
	if !slices.Equal(dm[0].RepoTags, []string{imageRepo + ":" + version}) || img[dm[0].Config] == nil || len(dm[0].Layers) != 1 || img[dm[0].Layers[0]] == nil {
		t.Errorf("manifest.json %+v does not point into the layout", dm[0])
	}
}

// checkDockerfile proves that `make image` (docker build) makes the image hack/ociimage writes:
// the Dockerfile's labels (with the build arguments `make image` passes), user and entrypoint
// equal the tarball's.
func checkDockerfile(t *testing.T, tarball string) {
	_, _, cfg := imageOf(t, tarball)
	df := string(readFile(t, filepath.Join(testenv.RepoRoot(), "Dockerfile")))
	df = strings.ReplaceAll(df, "\\\n", " ")
	args := map[string]string{"VERSION": version, "REVISION": commit, "CREATED": created}
	labels := map[string]string{}
	var user, entrypoint string
	label := regexp.MustCompile(`([a-z0-9.]+)="([^"]*)"`)
	sc := bufio.NewScanner(strings.NewReader(df))
	for sc.Scan() {
		instr, rest, _ := strings.Cut(strings.TrimSpace(sc.Text()), " ")
		switch instr {
		case "LABEL":
			for _, m := range label.FindAllStringSubmatch(rest, -1) {
				labels[m[1]] = os.Expand(m[2], func(k string) string { return args[k] })
			}
		case "USER":
			user = strings.TrimSpace(rest)
		case "ENTRYPOINT":
			entrypoint = strings.TrimSpace(rest)
		}
	}
	if !maps.Equal(labels, cfg.Config.Labels) {
		t.Errorf("Dockerfile labels:\n %v\nimage labels:\n %v", labels, cfg.Config.Labels)
	}
	if user != cfg.Config.User {
		t.Errorf("Dockerfile USER %q, image %q", user, cfg.Config.User)
	}
	if ep, _ := json.Marshal(cfg.Config.Entrypoint); entrypoint != string(ep) {
		t.Errorf("Dockerfile ENTRYPOINT %s, image %s", entrypoint, ep)
	}
}

func checkSBOM(t *testing.T, path, bin string) {
	var doc struct {
		SPDXVersion string `json:"spdxVersion"`
		Packages    []struct {
			Name        string `json:"name"`
			SPDXID      string `json:"SPDXID"`
			VersionInfo string `json:"versionInfo"`
			Checksums   []struct {
				Algorithm     string `json:"algorithm"`
				ChecksumValue string `json:"checksumValue"`
			} `json:"checksums"`
			ExternalRefs []struct {
				ReferenceLocator string `json:"referenceLocator"`
			} `json:"externalRefs"`
		} `json:"packages"`
	}
	if err := json.Unmarshal(readFile(t, path), &doc); err != nil {
		t.Fatal(err)
	}
	if doc.SPDXVersion != "SPDX-2.3" || len(doc.Packages) < 10 {
		t.Fatalf("%s: version %q, %d packages", path, doc.SPDXVersion, len(doc.Packages))
	}
	main := doc.Packages[0]
	if main.Name != "antrea.io/antrea-issuer" || main.VersionInfo != version || len(main.Checksums) != 1 ||
		main.Checksums[0].ChecksumValue != strings.TrimPrefix(digest(readFile(t, bin)), "sha256:") {
		t.Errorf("main package %+v does not describe the binary", main)
	}
	purls := map[string]bool{}
	for _, p := range doc.Packages {
		for _, r := range p.ExternalRefs {
			purls[strings.Split(r.ReferenceLocator, "@")[0]] = true
		}
	}
	for _, want := range []string{"pkg:golang/antrea.io/antrea-issuer", "pkg:golang/stdlib",
		"pkg:golang/sigs.k8s.io/controller-runtime", "pkg:golang/github.com/cert-manager/issuer-lib", "pkg:golang/k8s.io/client-go"} {
		if !purls[want] {
			t.Errorf("no package %s", want)
		}
	}
}

// checkChart loads the packaged chart with Helm and renders it: its version, and a Deployment
// that runs the published image at the release's tag with no --set.
func checkChart(t *testing.T, path string) {
	c, err := loader.Load(path)
	if err != nil {
		t.Fatalf("loading %s: %v", path, err)
	}
	if c.Metadata.Version != "0.0.0-test.1" || c.Metadata.AppVersion != version {
		t.Errorf("version %s appVersion %s", c.Metadata.Version, c.Metadata.AppVersion)
	}
	in := action.NewInstall(&action.Configuration{Log: func(string, ...any) {}})
	in.ClientOnly, in.DryRun, in.ReleaseName, in.Namespace = true, true, "antrea-issuer", "antrea-issuer"
	in.KubeVersion = &chartutil.KubeVersion{Version: "v" + testenv.KubernetesVersion, Major: "1", Minor: strings.Split(testenv.KubernetesVersion, ".")[1]}
	rel, err := in.Run(c, nil)
	if err != nil {
		t.Fatalf("rendering the packaged chart: %v", err)
	}
	if want := `image: "` + imageRepo + ":" + version + `"`; !strings.Contains(rel.Manifest, want) {
		t.Errorf("the packaged chart does not deploy %q", want)
	}
}

func checkSums(t *testing.T, dist string) {
	sums := string(readFile(t, filepath.Join(dist, "SHA256SUMS")))
	var names []string
	for _, line := range strings.Split(strings.TrimSpace(sums), "\n") {
		sum, name, ok := strings.Cut(line, "  ")
		if !ok {
			t.Fatalf("line %q", line)
		}
		names = append(names, name)
		if got := strings.TrimPrefix(digest(readFile(t, filepath.Join(dist, name))), "sha256:"); got != sum {
			t.Errorf("%s: sha256 %s, SHA256SUMS says %s", name, got, sum)
		}
	}
	slices.Sort(names)
	var want []string
	for arch := range arches {
		for _, suffix := range []string{"", ".spdx.json", ".tar"} {
			want = append(want, fmt.Sprintf("antrea-issuer-%s-linux-%s%s", version, arch, suffix))
		}
	}
	want = append(want, "antrea-issuer-0.0.0-test.1.tgz")
	slices.Sort(want)
	if !slices.Equal(names, want) {
		t.Errorf("SHA256SUMS lists %v, want %v", names, want)
	}
}
