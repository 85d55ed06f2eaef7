// Command pause is the sandbox process of every pod on the test platform's real node: it holds the pod's
// namespaces, reaps orphaned children (it is pid 1 of a pod that shares its pid namespace) and exits on SIGINT or
// SIGTERM. No image registry is reachable here, so the upstream pause image is rebuilt from this file.
package main

import (
	"os"
	"os/signal"
	"syscall"
)

func main() {
	signals := make(chan os.Signal, 8)
	signal.Notify(signals, syscall.SIGINT, syscall.SIGTERM, syscall.SIGCHLD)
	for s := range signals {
		if s != syscall.SIGCHLD {
			os.Exit(0)
		}
		for {
			var status syscall.WaitStatus
			pid, err := syscall.Wait4(-1, &status, syscall.WNOHANG, nil)
			if pid <= 0 || err != nil {
				break
			}
		}
	}
}
