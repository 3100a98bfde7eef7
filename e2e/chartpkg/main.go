// Command chartpkg packages the antrea-issuer chart for a release with Helm's own code (what `helm
// package --version --app-version` does), with one change: the packaged values.yaml defaults
// image.repository to the published image, so that `helm install` of the published chart needs no
// --set. The file is edited in place (comments and order kept) and read back to check the edit.
//
//	cd e2e && go run ./chartpkg -chart ../charts/antrea-issuer -version 0.1.0 -app-version v0.1.0 \
//	  -image ghcr.io/antrea-io/antrea-issuer -o ../dist
//
// `make release-chart` runs it. It lives in the e2e module because Helm is test and release
// tooling, not a dependency of the binary.
package main

import (
	"flag"
	"fmt"
	"os"
	"regexp"

	"helm.sh/helm/v3/pkg/chart"
	"helm.sh/helm/v3/pkg/chart/loader"
	"helm.sh/helm/v3/pkg/chartutil"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "chartpkg:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	fs := flag.NewFlagSet("chartpkg", flag.ContinueOnError)
	dir := fs.String("chart", "", "chart folder")
	version := fs.String("version", "", "chart version (SemVer, no leading v)")
	appVersion := fs.String("app-version", "", "appVersion: the image tag the chart deploys by default")
	image := fs.String("image", "", "default image.repository of the packaged chart (empty: keep the chart's)")
	out := fs.String("o", ".", "output folder")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *dir == "" || *version == "" || *appVersion == "" {
		return fmt.Errorf("-chart, -version and -app-version are required")
	}
	c, err := loader.Load(*dir)
	if err != nil {
		return err
	}
	if err := prepare(c, *version, *appVersion, *image); err != nil {
		return err
	}
	if err := os.MkdirAll(*out, 0o755); err != nil {
		return err
	}
	path, err := chartutil.Save(c, *out)
	if err != nil {
		return err
	}
	fmt.Println(path)
	return nil
}

// repositoryLine is image.repository in values.yaml: the first key of the top-level `image:`
// mapping after its `# --` comment lines.
var repositoryLine = regexp.MustCompile(`(?m)^(image:\n(?:  #.*\n)*  repository: ).*$`)

// prepare sets the chart's version and appVersion and, if image is set, the default
// image.repository in its raw values.yaml (which chartutil.Save writes) and its parsed values.
func prepare(c *chart.Chart, version, appVersion, image string) error {
	c.Metadata.Version, c.Metadata.AppVersion = version, appVersion
	if err := c.Validate(); err != nil {
		return err
	}
	if image == "" {
		return nil
	}
	for _, f := range c.Raw {
		if f.Name != chartutil.ValuesfileName {
			continue
		}
		if n := len(repositoryLine.FindAllIndex(f.Data, -1)); n != 1 {
			return fmt.Errorf("%s: found %d image.repository lines, want 1", f.Name, n)
		}
		f.Data = repositoryLine.ReplaceAll(f.Data, []byte("${1}"+image))
		vals, err := chartutil.ReadValues(f.Data)
		if err != nil {
			return err
		}
		if got, err := vals.PathValue("image.repository"); err != nil || got != image {
			return fmt.Errorf("%s: image.repository reads %v after the edit (%v), want %s", f.Name, got, err, image)
		}
		c.Values = vals
		return nil
	}
	return fmt.Errorf("the chart has no %s", chartutil.ValuesfileName)
}
