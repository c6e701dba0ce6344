// Command mkimages writes the test images of package imagetest into a
// directory, for scripts/test.sh to build once and share with every test
// through $BOX_TEST_IMAGES.
//
// Usage: go run ./imagetest/cmd/mkimages DIR
package main

import (
	"fmt"
	"os"

	"github.com/boxcli/box/imagetest"
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: mkimages DIR")
		os.Exit(2)
	}
	p, err := imagetest.Busybox(os.Args[1])
	if err != nil {
		fmt.Fprintf(os.Stderr, "mkimages: %v\n", err)
		os.Exit(1)
	}
	fmt.Printf("docker-archive:%s:%s\noci-archive:%s:%s\noci:%s:%s\n",
		p.DockerArchive, imagetest.BusyboxTag, p.OCIArchive, imagetest.RefName, p.OCIDir, imagetest.RefName)
}
