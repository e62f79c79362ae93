// Command airouter is AI Router: one OpenAI-compatible endpoint in front of
// many LLM providers.
//
//	airouter serve [--worker]        serve the HTTP APIs (and the Temporal worker)
//	airouter worker                  run the Temporal worker
//	airouter migrate up|down|version manage the database schema
//	airouter openapi [--3.0]         print the OpenAPI document
//	airouter seed-demo               create the demo providers, models and client key
//	airouter version                 print the version
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr); err != nil {
		if !errors.Is(err, errUsage) {
			fmt.Fprintln(os.Stderr, "airouter:", err)
		}
		os.Exit(1)
	}
}

const usage = `usage: airouter <command> [flags]

commands:
  serve [--worker]          serve the OpenAI-compatible and admin APIs; --worker also runs the Temporal worker
  worker                    run the Temporal worker (health checks, recovery probes, key rotation)
  migrate up|down|version   apply, roll back one, or show database migrations
  openapi [--3.0]           print the OpenAPI document (3.1, or 3.0 with --3.0)
  seed-demo [flags]         create the demo providers, models and client key (used by make run)
  version                   print the version

configuration comes from environment variables; see README.md.
`

// run is the whole program; main only wires the process to it, so tests can
// run the real thing on port 0.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return errUsage
	}
	cmd, rest := args[0], args[1:]
	switch cmd {
	case "serve":
		return runServe(ctx, rest, getenv, stdout, stderr)
	case "worker":
		return runWorker(ctx, rest, getenv, stdout, stderr)
	case "migrate":
		return runMigrate(ctx, rest, getenv, stdout, stderr)
	case "openapi":
		return runOpenAPI(rest, stdout, stderr)
	case "seed-demo":
		return runSeedDemo(ctx, rest, getenv, stdout, stderr)
	case "version", "--version", "-v":
		fmt.Fprintln(stdout, "airouter", version)
		return nil
	case "help", "--help", "-h":
		fmt.Fprint(stdout, usage)
		return nil
	default:
		fmt.Fprintf(stderr, "airouter: unknown command %q\n\n%s", cmd, usage)
		return errUsage
	}
}
