// Command mockllm is a fast fake LLM upstream speaking OpenAI's Chat
// Completions, Responses, Embeddings and image generation APIs and
// Anthropic's Messages API, for demos, tests and benchmarks. Flags set the defaults, X-Mock-* request headers override
// them per request (see package mock). Every flag can also be set by the
// environment variable MOCKLLM_<FLAG>, dashes as underscores (for example
// MOCKLLM_ADDR); the command line wins.
//
//	mockllm -addr 127.0.0.1:9099 -ttft 200ms -tps 50
//	mockllm -selftest-bench 5s      # measure its own ceiling and exit
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/airouter/airouter/cmd/mockllm/mock"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args, os.Getenv, os.Stdout, os.Stderr); err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(os.Stderr, "mockllm:", err)
		}
		os.Exit(2)
	}
}

type options struct {
	serverArgs      []string // the flags that configure the server, for a selftest child
	addr            string
	cfg             mock.Config
	shutdownTimeout time.Duration
	benchFor        time.Duration
	benchConns      int
	benchTarget     string
}

func parseFlags(args []string, getenv func(string) string, stderr io.Writer) (options, error) {
	var (
		o                                    options
		size, stall, reset, models, toolCall string
		errorRate, tps                       float64
		tokens, errorStatus                  int
		latency, jitter, ttft, retryAfter    time.Duration
		cut, lenient, ignoreHeaders          bool
		name                                 = "mockllm"
		sizeHelp                             = "small (~300 B JSON), large (~10 KB) or bytes of assistant text; unset derives it from -tokens"
	)
	if len(args) > 0 {
		name = args[0]
		args = args[1:]
	}
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.addr, "addr", "127.0.0.1:9099", "listen address (port 0 picks a free one)")
	fs.DurationVar(&latency, "latency", 0, "fixed delay before the first byte of every response")
	fs.DurationVar(&jitter, "jitter", 0, "extra uniform random delay in [0, jitter)")
	fs.DurationVar(&ttft, "ttft", 0, "time from the response start to the first token")
	fs.Float64Var(&tps, "tps", 0, "tokens per second with deadline pacing; 0 sends all tokens at once")
	fs.IntVar(&tokens, "tokens", 0, "completion tokens (= content chunks of a stream); 0 derives it from -size (4 bytes a token)")
	fs.StringVar(&size, "size", "", sizeHelp)
	fs.Float64Var(&errorRate, "error-rate", 0, "probability in [0,1] of answering with -error-status")
	fs.IntVar(&errorStatus, "error-status", 500, "status of injected errors: 500, 503, 429 (with Retry-After), 529 (Anthropic overloaded), any 4xx/5xx")
	fs.DurationVar(&retryAfter, "retry-after", time.Second, "Retry-After of a 429, rounded up to seconds")
	fs.StringVar(&o.cfg.ErrorCode, "error-code", "", "OpenAI error code of injected errors, e.g. content_policy_violation (with -error-status 403: a flagged prompt)")
	fs.StringVar(&stall, "stall", "", "stall every response: before-first-byte:DUR or mid-stream:DUR")
	fs.BoolVar(&cut, "cut", false, "cut every stream in the middle of an event and close the connection")
	fs.StringVar(&reset, "reset", "", "reset the TCP connection: before-first-byte or mid-stream")
	fs.StringVar(&o.cfg.RequireKey, "require-key", "", "demand this API key (Bearer or x-api-key); 401 in the provider's format otherwise")
	fs.StringVar(&models, "models", strings.Join(mock.DefaultModels, ","), "comma-separated models listed by GET /v1/models (chat echoes any model)")
	fs.StringVar(&toolCall, "tool-call", "off", "off, or auto: answer with a call of the first tool when the request offers tools and the last message is the user's")
	fs.BoolVar(&lenient, "lenient", false, "accept Anthropic requests without max_tokens or anthropic-version")
	fs.BoolVar(&ignoreHeaders, "ignore-headers", false, "ignore X-Mock-* request headers")
	fs.DurationVar(&o.shutdownTimeout, "shutdown-timeout", 5*time.Second, "on SIGTERM, wait this long for open responses before closing them")
	fs.DurationVar(&o.benchFor, "selftest-bench", 0, "measure the mock's own ceiling for this long per scenario, print it and exit")
	fs.IntVar(&o.benchConns, "selftest-conns", 64, "keep-alive connections of -selftest-bench")
	fs.StringVar(&o.benchTarget, "selftest-target", "", "host:port of a running mockllm for -selftest-bench; \"inprocess\" serves from the measuring process; default: a child process")

	var envErr error
	fs.VisitAll(func(f *flag.Flag) {
		env := "MOCKLLM_" + strings.ToUpper(strings.ReplaceAll(f.Name, "-", "_"))
		if v := getenv(env); v != "" {
			if err := f.Value.Set(v); err != nil && envErr == nil {
				envErr = fmt.Errorf("%s=%q: %v", env, v, err)
			}
		}
	})
	if envErr != nil {
		return o, envErr
	}
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if fs.NArg() > 0 {
		return o, fmt.Errorf("unexpected arguments: %q", fs.Args())
	}
	fs.VisitAll(func(f *flag.Flag) {
		// The selftest's own requests carry no key.
		if f.Name != "addr" && f.Name != "require-key" && !strings.HasPrefix(f.Name, "selftest-") {
			o.serverArgs = append(o.serverArgs, "-"+f.Name+"="+f.Value.String())
		}
	})

	c := &o.cfg
	c.Latency, c.Jitter, c.TTFT, c.TPS, c.Tokens = latency, jitter, ttft, tps, tokens
	c.ErrorRate, c.ErrorStatus, c.RetryAfter = errorRate, errorStatus, retryAfter
	c.Cut, c.Lenient, c.IgnoreHeaders = cut, lenient, ignoreHeaders
	var err error
	if c.Size, err = mock.ParseSize(size); err != nil {
		return o, fmt.Errorf("-size %v", err)
	}
	if c.Stall, err = mock.ParseStall(stall); err != nil {
		return o, fmt.Errorf("-stall %v", err)
	}
	if c.Reset, err = mock.ParsePoint(reset); err != nil {
		return o, fmt.Errorf("-reset %v", err)
	}
	if c.ToolCall, err = mock.ParseToolCallMode(toolCall); err != nil {
		return o, fmt.Errorf("-tool-call %v", err)
	}
	c.Models = []string{}
	for _, m := range strings.Split(models, ",") {
		if m = strings.TrimSpace(m); m != "" {
			c.Models = append(c.Models, m)
		}
	}
	if err := c.Validate(); err != nil {
		return o, err
	}
	if o.benchConns < 1 {
		return o, errors.New("-selftest-conns must be at least 1")
	}
	return o, nil
}

// run serves until ctx ends, then shuts down gracefully. It prints one
// line, the listen URL, when it is ready.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	o, err := parseFlags(args, getenv, stderr)
	if err != nil {
		return err
	}
	if o.benchFor > 0 {
		return selftest(ctx, o, stdout)
	}
	ln, err := net.Listen("tcp", o.addr)
	if err != nil {
		return err
	}
	srv := newServer(withStats(mock.NewHandler(o.cfg)), stderr)
	fmt.Fprintf(stdout, "mockllm listening on http://%s\n", ln.Addr())
	return serve(ctx, srv, ln, o.shutdownTimeout)
}

// newServer tunes http.Server for many short keep-alive requests and long
// streams alike: no WriteTimeout (streams pace themselves), bounded header
// reads, idle connections kept for reuse.
func newServer(h http.Handler, stderr io.Writer) *http.Server {
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          log.New(stderr, "mockllm: ", 0),
	}
}

func serve(ctx context.Context, srv *http.Server, ln net.Listener, grace time.Duration) error {
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), grace)
	defer cancel()
	err := srv.Shutdown(sctx)
	if errors.Is(err, context.DeadlineExceeded) {
		err = srv.Close()
	}
	if serr := <-errc; !errors.Is(serr, http.ErrServerClosed) && err == nil {
		err = serr
	}
	return err
}
