package main

import (
	"flag"
	"fmt"
	"os"

	ctrl "sigs.k8s.io/controller-runtime"

	"antrea.io/antrea-issuer/internal/version"
)

// versionFlag registers --version on fs. The function it returns is called once fs is parsed and
// the logger is set: with --version it prints the version and commit and exits; otherwise it logs
// them, as the first line of every run.
func versionFlag(fs *flag.FlagSet) func() {
	show := fs.Bool("version", false, "Print the version and commit, then exit.")
	return func() {
		info := version.Get()
		if *show {
			fmt.Println(info)
			os.Exit(0)
		}
		ctrl.Log.WithName("antrea-issuer").Info("version", "version", info.Version, "commit", info.Commit,
			"go", info.GoVersion, "platform", info.Platform)
	}
}
