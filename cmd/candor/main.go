// Command candor is the command center for the day a company learns that
// its customers' data was stolen. See `candor help`.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/candorhq/candor/internal/cli"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := cli.Run(ctx, os.Args[1:], &cli.Env{Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr})
	stop()
	os.Exit(code)
}
