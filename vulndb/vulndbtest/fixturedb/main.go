// Command fixturedb writes the fixture vulnerability DB (vulndbtest's
// Default and Dependencies content) into a cache directory, in Trivy's
// layout (DIR/db/trivy.db, DIR/db/metadata.json), for running Tollgate or
// the Trivy CLI against the fixtures by hand:
//
//	go run ./vulndb/vulndbtest/fixturedb DIR
package main

import (
	"fmt"
	"os"

	"github.com/tollgate/tollgate/vulndb"
	"github.com/tollgate/tollgate/vulndb/vulndbtest"
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: fixturedb DIR")
		os.Exit(2)
	}
	if err := vulndbtest.Write(vulndb.Dir(os.Args[1]), vulndbtest.Default().With(vulndbtest.Dependencies())); err != nil {
		fmt.Fprintln(os.Stderr, "fixturedb:", err)
		os.Exit(1)
	}
}
