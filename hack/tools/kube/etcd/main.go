// Command etcd is etcd's server at the version kube-apiserver v1.34 is built against,
// built from the Go module proxy for cuscon's end-to-end control plane.
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() { etcdmain.Main(os.Args) }
