// Command sbom writes an SPDX 2.3 JSON software bill of materials for a Go binary, from the build
// information the Go toolchain embeds in it (`go version -m` shows the same): the main module,
// every module linked in (with replacements applied), and the Go standard library, each with its
// package URL (pkg:golang/...), so that vulnerability scanners can match them. The binary itself
// is described by its SHA-256.
//
//	go run ./hack/sbom -binary dist/bin/linux-amd64/antrea-issuer -version v0.1.0 -created <unix seconds> -o out.spdx.json
//
// `make release-sbom` runs it for each release binary.
package main

import (
	"crypto/sha256"
	"debug/buildinfo"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"runtime/debug"
	"strconv"
	"strings"
	"time"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "sbom:", err)
		os.Exit(1)
	}
}

type spdxDocument struct {
	SPDXVersion       string         `json:"spdxVersion"`
	DataLicense       string         `json:"dataLicense"`
	SPDXID            string         `json:"SPDXID"`
	Name              string         `json:"name"`
	DocumentNamespace string         `json:"documentNamespace"`
	CreationInfo      creationInfo   `json:"creationInfo"`
	Packages          []spdxPackage  `json:"packages"`
	Relationships     []relationship `json:"relationships"`
}

type creationInfo struct {
	Created  string   `json:"created"`
	Creators []string `json:"creators"`
}

type spdxPackage struct {
	Name             string        `json:"name"`
	SPDXID           string        `json:"SPDXID"`
	VersionInfo      string        `json:"versionInfo"`
	PackageFileName  string        `json:"packageFileName,omitempty"`
	Supplier         string        `json:"supplier"`
	DownloadLocation string        `json:"downloadLocation"`
	FilesAnalyzed    bool          `json:"filesAnalyzed"`
	Checksums        []checksum    `json:"checksums,omitempty"`
	LicenseConcluded string        `json:"licenseConcluded"`
	LicenseDeclared  string        `json:"licenseDeclared"`
	CopyrightText    string        `json:"copyrightText"`
	Comment          string        `json:"comment,omitempty"`
	ExternalRefs     []externalRef `json:"externalRefs"`
}

type checksum struct {
	Algorithm     string `json:"algorithm"`
	ChecksumValue string `json:"checksumValue"`
}

type externalRef struct {
	ReferenceCategory string `json:"referenceCategory"`
	ReferenceType     string `json:"referenceType"`
	ReferenceLocator  string `json:"referenceLocator"`
}

type relationship struct {
	SPDXElementID      string `json:"spdxElementId"`
	RelationshipType   string `json:"relationshipType"`
	RelatedSPDXElement string `json:"relatedSpdxElement"`
}

func run(args []string) error {
	fs := flag.NewFlagSet("sbom", flag.ContinueOnError)
	binary := fs.String("binary", "", "the Go binary to describe")
	version := fs.String("version", "", "the release version of the main module (the binary's own says (devel) for a local build)")
	name := fs.String("name", "", "document name (default: the binary's file name, version and platform)")
	namespaceBase := fs.String("namespace", "https://github.com/antrea-io/antrea-issuer/sbom", "base URI of the document namespace")
	license := fs.String("license", "Apache-2.0", "declared license of the main module (SPDX expression)")
	created := fs.String("created", "0", "creation time, Unix seconds (the commit time: SOURCE_DATE_EPOCH)")
	out := fs.String("o", "", "output file")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *binary == "" || *version == "" || *out == "" {
		return fmt.Errorf("-binary, -version and -o are required")
	}
	secs, err := strconv.ParseInt(*created, 10, 64)
	if err != nil {
		return fmt.Errorf("-created: %w", err)
	}
	data, err := os.ReadFile(*binary)
	if err != nil {
		return err
	}
	info, err := buildinfo.ReadFile(*binary)
	if err != nil {
		return fmt.Errorf("reading the Go build information of %s: %w", *binary, err)
	}
	sum := sha256.Sum256(data)
	doc := document(info, *version, hex.EncodeToString(sum[:]), filepath.Base(*binary), *license, time.Unix(secs, 0).UTC())
	if *name != "" {
		doc.Name = *name
	}
	doc.DocumentNamespace = strings.TrimSuffix(*namespaceBase, "/") + "/" + doc.Name + "-" + hex.EncodeToString(sum[:8])
	js, err := json.MarshalIndent(doc, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(*out, append(js, '\n'), 0o644)
}

// setting returns a build setting of info ("" when absent).
func setting(info *debug.BuildInfo, key string) string {
	for _, s := range info.Settings {
		if s.Key == key {
			return s.Value
		}
	}
	return ""
}

func purl(path, version string) externalRef {
	return externalRef{ReferenceCategory: "PACKAGE-MANAGER", ReferenceType: "purl",
		ReferenceLocator: "pkg:golang/" + path + "@" + version}
}

// document describes the binary built from info; sha256 is the binary's digest.
func document(info *debug.BuildInfo, version, sha256, file, license string, created time.Time) spdxDocument {
	goos, goarch := setting(info, "GOOS"), setting(info, "GOARCH")
	var build []string
	for _, k := range []string{"GOOS", "GOARCH", "CGO_ENABLED", "-trimpath", "-ldflags", "vcs.revision"} {
		if v := setting(info, k); v != "" {
			build = append(build, k+"="+v)
		}
	}
	main := spdxPackage{
		Name: info.Main.Path, SPDXID: "SPDXRef-Package-main", VersionInfo: version, PackageFileName: file,
		Supplier: "NOASSERTION", DownloadLocation: "NOASSERTION", FilesAnalyzed: false,
		Checksums:        []checksum{{Algorithm: "SHA256", ChecksumValue: sha256}},
		LicenseConcluded: "NOASSERTION", LicenseDeclared: license, CopyrightText: "NOASSERTION",
		Comment:      fmt.Sprintf("Go binary %s for %s/%s, built with %s (%s)", file, goos, goarch, info.GoVersion, strings.Join(build, " ")),
		ExternalRefs: []externalRef{purl(info.Main.Path, version)},
	}
	doc := spdxDocument{
		SPDXVersion: "SPDX-2.3", DataLicense: "CC0-1.0", SPDXID: "SPDXRef-DOCUMENT",
		Name: fmt.Sprintf("%s-%s-%s-%s", file, version, goos, goarch),
		CreationInfo: creationInfo{
			Created:  created.Format(time.RFC3339),
			Creators: []string{"Tool: antrea-issuer-hack-sbom", "Tool: " + info.GoVersion},
		},
		Packages: []spdxPackage{main},
		Relationships: []relationship{{
			SPDXElementID: "SPDXRef-DOCUMENT", RelationshipType: "DESCRIBES", RelatedSPDXElement: main.SPDXID,
		}},
	}
	add := func(id, name, version string) {
		doc.Packages = append(doc.Packages, spdxPackage{
			Name: name, SPDXID: id, VersionInfo: version, Supplier: "NOASSERTION", DownloadLocation: "NOASSERTION",
			LicenseConcluded: "NOASSERTION", LicenseDeclared: "NOASSERTION", CopyrightText: "NOASSERTION",
			ExternalRefs: []externalRef{purl(name, version)},
		})
		doc.Relationships = append(doc.Relationships, relationship{
			SPDXElementID: main.SPDXID, RelationshipType: "DEPENDS_ON", RelatedSPDXElement: id,
		})
	}
	// The standard library is linked into every Go binary, and its vulnerabilities are the Go
	// release's: scanners look for pkg:golang/stdlib@<version without "go">.
	add("SPDXRef-Package-stdlib", "stdlib", info.GoVersion)
	doc.Packages[len(doc.Packages)-1].ExternalRefs = []externalRef{purl("stdlib", strings.TrimPrefix(info.GoVersion, "go"))}
	for i, m := range info.Deps {
		if m.Replace != nil {
			m = m.Replace
		}
		add(fmt.Sprintf("SPDXRef-Package-%d", i+1), m.Path, m.Version)
	}
	return doc
}
