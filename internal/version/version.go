// Package version holds the release version and commit of the antrea-issuer binary. Release
// builds set both with the linker (`make release-binaries` does):
//
//	-ldflags "-X antrea.io/antrea-issuer/internal/version.Version=v0.1.0 -X antrea.io/antrea-issuer/internal/version.Commit=<git sha>"
//
// Without them the binary reports "dev" and "unknown", or, when built by
// `go install antrea.io/antrea-issuer/cmd/antrea-issuer@<version>`, that module version.
package version

import (
	"fmt"
	"runtime"
	"runtime/debug"
)

// Set with -ldflags -X; left as is by a plain `go build`.
var (
	Version = "dev"
	Commit  = "unknown"
)

// Info is what the binary reports about its build.
type Info struct {
	Version   string
	Commit    string
	GoVersion string
	Platform  string
}

// Get returns the build's version and commit, falling back to what the Go toolchain recorded
// (the module version of a `go install …@version`, the VCS revision of a build with -buildvcs).
func Get() Info {
	info := Info{Version: Version, Commit: Commit, GoVersion: runtime.Version(), Platform: runtime.GOOS + "/" + runtime.GOARCH}
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return info
	}
	if info.Version == "dev" && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		info.Version = bi.Main.Version
	}
	if info.Commit == "unknown" {
		for _, s := range bi.Settings {
			if s.Key == "vcs.revision" && s.Value != "" {
				info.Commit = s.Value
			}
		}
	}
	return info
}

// String is the one line `antrea-issuer --version` prints.
func (i Info) String() string {
	return fmt.Sprintf("antrea-issuer %s (commit %s, %s, %s)", i.Version, i.Commit, i.GoVersion, i.Platform)
}
