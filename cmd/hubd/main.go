// Command hubd serves realtime hubs over Socket.IO. See README.md.
package main

import (
	"os"

	"github.com/hubd/hubd/pkg/server"
)

func main() {
	os.Exit(server.Main(os.Args[1:], os.Stdout, os.Stderr))
}
