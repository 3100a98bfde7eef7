// Command ociimage writes the antrea-issuer container image for one platform as an OCI image
// layout in a tar file, without Docker and without pulling anything: the image is FROM scratch,
// one layer holding the static binary at /antrea-issuer, run as 65532:65532. The tar also holds a
// Docker-style manifest.json, so `docker load -i` takes it as well as OCI tools do (`crane push`
// of the extracted folder, `skopeo copy oci-archive:`). Its labels are the Dockerfile's (a test
// compares them). Every timestamp is -created, so a rebuild of one commit is byte-identical.
//
//	go run ./hack/ociimage -binary dist/bin/linux-amd64/antrea-issuer -arch amd64 \
//	  -version v0.1.0 -revision <commit> -created <unix seconds> -tag <repo>:v0.1.0 -o image.tar
//
// `make release-images` runs it for each platform.
package main

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"path"
	"sort"
	"strconv"
	"time"
)

// Media types of the OCI image specification.
const (
	mediaTypeIndex    = "application/vnd.oci.image.index.v1+json"
	mediaTypeManifest = "application/vnd.oci.image.manifest.v1+json"
	mediaTypeConfig   = "application/vnd.oci.image.config.v1+json"
	mediaTypeLayer    = "application/vnd.oci.image.layer.v1.tar+gzip"
)

// What the image runs: the same in the Dockerfile.
const (
	entrypoint = "/antrea-issuer"
	user       = "65532:65532"
)

type options struct {
	binary, os, arch             string
	version, revision, source    string
	created                      time.Time
	tag, out                     string
	title, description, licenses string
}

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "ociimage:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	fs := flag.NewFlagSet("ociimage", flag.ContinueOnError)
	var o options
	var created string
	fs.StringVar(&o.binary, "binary", "", "the static antrea-issuer binary for the platform")
	fs.StringVar(&o.os, "os", "linux", "the platform's operating system (GOOS)")
	fs.StringVar(&o.arch, "arch", "", "the platform's architecture (GOARCH)")
	fs.StringVar(&o.version, "version", "", "label org.opencontainers.image.version")
	fs.StringVar(&o.revision, "revision", "", "label org.opencontainers.image.revision (the commit)")
	fs.StringVar(&o.source, "source", "https://github.com/antrea-io/antrea-issuer", "label org.opencontainers.image.source")
	fs.StringVar(&o.licenses, "licenses", "Apache-2.0", "label org.opencontainers.image.licenses (SPDX expression)")
	fs.StringVar(&o.title, "title", "antrea-issuer", "label org.opencontainers.image.title")
	fs.StringVar(&o.description, "description", "cert-manager external issuer for Antrea's controller certificate, and the CA bundle sync", "label org.opencontainers.image.description")
	fs.StringVar(&created, "created", "0", "creation time, Unix seconds (the commit time: SOURCE_DATE_EPOCH)")
	fs.StringVar(&o.tag, "tag", "", "image reference docker load tags it with, and the OCI ref.name annotation (repository:tag)")
	fs.StringVar(&o.out, "o", "", "output tar file")
	if err := fs.Parse(args); err != nil {
		return err
	}
	secs, err := strconv.ParseInt(created, 10, 64)
	if err != nil {
		return fmt.Errorf("-created: %w", err)
	}
	o.created = time.Unix(secs, 0).UTC()
	for name, v := range map[string]string{"-binary": o.binary, "-arch": o.arch, "-version": o.version, "-revision": o.revision, "-o": o.out} {
		if v == "" {
			return fmt.Errorf("%s is required", name)
		}
	}
	bin, err := os.ReadFile(o.binary)
	if err != nil {
		return err
	}
	layout, err := build(o, bin)
	if err != nil {
		return err
	}
	return os.WriteFile(o.out, layout, 0o644)
}

// Labels are the image's OCI labels (config and manifest annotations alike).
func (o options) labels() map[string]string {
	return map[string]string{
		"org.opencontainers.image.title":       o.title,
		"org.opencontainers.image.description": o.description,
		"org.opencontainers.image.version":     o.version,
		"org.opencontainers.image.revision":    o.revision,
		"org.opencontainers.image.source":      o.source,
		"org.opencontainers.image.licenses":    o.licenses,
		"org.opencontainers.image.created":     o.created.Format(time.RFC3339),
	}
}

type descriptor struct {
	MediaType   string            `json:"mediaType"`
	Digest      string            `json:"digest"`
	Size        int64             `json:"size"`
	Platform    *platform         `json:"platform,omitempty"`
	Annotations map[string]string `json:"annotations,omitempty"`
}

type platform struct {
	Architecture string `json:"architecture"`
	OS           string `json:"os"`
	Variant      string `json:"variant,omitempty"`
}

// blob is content stored under blobs/sha256/.
type blob struct {
	digest string // sha256:<hex>
	data   []byte
}

func newBlob(data []byte) blob {
	sum := sha256.Sum256(data)
	return blob{digest: "sha256:" + hex.EncodeToString(sum[:]), data: data}
}

func (b blob) path() string { return "blobs/sha256/" + b.digest[len("sha256:"):] }

func (b blob) descriptor(mediaType string) descriptor {
	return descriptor{MediaType: mediaType, Digest: b.digest, Size: int64(len(b.data))}
}

// build returns the image layout tar for o with bin as /antrea-issuer.
func build(o options, bin []byte) ([]byte, error) {
	// The layer: one file, owned by root, readable and executable by everyone (the image runs as
	// 65532), dated at the commit.
	var layerTar bytes.Buffer
	tw := tar.NewWriter(&layerTar)
	if err := tw.WriteHeader(&tar.Header{
		Typeflag: tar.TypeReg, Name: path.Base(entrypoint), Mode: 0o755, Size: int64(len(bin)),
		ModTime: o.created, Format: tar.FormatPAX,
	}); err != nil {
		return nil, err
	}
	if _, err := tw.Write(bin); err != nil {
		return nil, err
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	diffID := newBlob(layerTar.Bytes()).digest
	var gz bytes.Buffer
	zw, err := gzip.NewWriterLevel(&gz, gzip.BestCompression) // no name, no time: deterministic
	if err != nil {
		return nil, err
	}
	if _, err := zw.Write(layerTar.Bytes()); err != nil {
		return nil, err
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	layer := newBlob(gz.Bytes())

	plat := platform{Architecture: o.arch, OS: o.os}
	if o.arch == "arm64" {
		plat.Variant = "v8"
	}
	created := o.created.Format(time.RFC3339)
	cfg := map[string]any{
		"created":      created,
		"architecture": plat.Architecture,
		"os":           plat.OS,
		"config": map[string]any{
			"User":       user,
			"Entrypoint": []string{entrypoint},
			"Labels":     o.labels(),
		},
		"rootfs": map[string]any{"type": "layers", "diff_ids": []string{diffID}},
		"history": []map[string]any{{
			"created":    created,
			"created_by": "hack/ociimage: COPY antrea-issuer " + entrypoint,
		}},
	}
	if plat.Variant != "" {
		cfg["variant"] = plat.Variant
	}
	config, err := json.Marshal(cfg)
	if err != nil {
		return nil, err
	}
	configBlob := newBlob(config)

	manifest, err := json.Marshal(map[string]any{
		"schemaVersion": 2,
		"mediaType":     mediaTypeManifest,
		"config":        configBlob.descriptor(mediaTypeConfig),
		"layers":        []descriptor{layer.descriptor(mediaTypeLayer)},
		"annotations":   o.labels(),
	})
	if err != nil {
		return nil, err
	}
	manifestBlob := newBlob(manifest)
	mdesc := manifestBlob.descriptor(mediaTypeManifest)
	mdesc.Platform = &plat
	if o.tag != "" {
		mdesc.Annotations = map[string]string{"org.opencontainers.image.ref.name": o.tag}
	}
	index, err := json.Marshal(map[string]any{
		"schemaVersion": 2,
		"mediaType":     mediaTypeIndex,
		"manifests":     []descriptor{mdesc},
	})
	if err != nil {
		return nil, err
	}
	// docker load reads manifest.json (Docker's own `docker save` writes both since Docker 25).
	dockerManifest := []map[string]any{{
		"Config": configBlob.path(),
		"Layers": []string{layer.path()},
	}}
	if o.tag != "" {
		dockerManifest[0]["RepoTags"] = []string{o.tag}
	}
	dm, err := json.Marshal(dockerManifest)
	if err != nil {
		return nil, err
	}

	files := map[string][]byte{
		"oci-layout":    []byte(`{"imageLayoutVersion":"1.0.0"}`),
		"index.json":    index,
		"manifest.json": dm,
	}
	for _, b := range []blob{layer, configBlob, manifestBlob} {
		files[b.path()] = b.data
	}
	return writeTar(files, o.created)
}

// writeTar writes files, with their folders, in name order, every entry dated t.
func writeTar(files map[string][]byte, t time.Time) ([]byte, error) {
	names := make([]string, 0, len(files))
	dirs := map[string]bool{}
	for name := range files {
		names = append(names, name)
		for d := path.Dir(name); d != "."; d = path.Dir(d) {
			dirs[d+"/"] = true
		}
	}
	for d := range dirs {
		names = append(names, d)
	}
	sort.Strings(names)
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, name := range names {
		h := &tar.Header{Name: name, ModTime: t, Format: tar.FormatPAX}
		if data, ok := files[name]; ok {
			h.Typeflag, h.Mode, h.Size = tar.TypeReg, 0o644, int64(len(data))
		} else {
			h.Typeflag, h.Mode = tar.TypeDir, 0o755
		}
		if err := tw.WriteHeader(h); err != nil {
			return nil, err
		}
		if _, err := io.Copy(tw, bytes.NewReader(files[name])); err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}
