// Command chartgen rewrites the generated parts of the antrea-issuer chart (CRD templates from
// config/crd, the README's values table from values.yaml). Run it from the repository root:
// `go run ./hack/chartgen` (or `make chart-docs`).
package main

import (
	"fmt"
	"os"

	"antrea.io/antrea-issuer/internal/chartgen"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "chartgen:", err)
		os.Exit(1)
	}
}

func run() error {
	root, err := os.Getwd()
	if err != nil {
		return err
	}
	files, err := chartgen.Generate(root)
	if err != nil {
		return err
	}
	stale, err := chartgen.Stale(root, files)
	if err != nil {
		return err
	}
	if err := chartgen.Write(root, files); err != nil {
		return err
	}
	for _, s := range stale {
		fmt.Println("updated", s)
	}
	return nil
}
