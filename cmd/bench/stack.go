package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
)

// repoRoot walks up from the working directory to the module's go.mod.
func repoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if b, err := os.ReadFile(filepath.Join(dir, "go.mod")); err == nil && bytes.Contains(b, []byte("module github.com/airouter/airouter")) {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("not inside the airouter module: run from the repository")
		}
		dir = parent
	}
}

// goBuild builds a package of the module to out as make build does, with
// the same version stamp, but keeps the symbol table (perf needs it to name
// the router's functions).
func goBuild(ctx context.Context, root, pkg, out string) error {
	version := "dev"
	if v, err := exec.Command("git", "-C", root, "describe", "--tags", "--always", "--dirty").Output(); err == nil {
		version = strings.TrimSpace(string(v))
	}
	cmd := exec.CommandContext(ctx, "go", "build", "-trimpath", "-ldflags", "-X main.version="+version, "-o", out, pkg)
	cmd.Dir = root
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("go build %s: %v\n%s", pkg, err, stderr.String())
	}
	return nil
}

// proc is a child process the harness started and measures.
type proc struct {
	name string
	cmd  *exec.Cmd
	addr string // host:port it listens on
	log  string // path of its stderr (and stdout) log
	done chan struct{}
	err  error
}

func (p *proc) pid() int { return p.cmd.Process.Pid }

// startProc starts path with args and env, sends its stderr to a log file in
// logDir, and waits (up to timeout) for a stdout line matching ready, whose
// first submatch is the listen address.
func startProc(ctx context.Context, name, path string, args, env []string, logDir string, ready *regexp.Regexp, timeout time.Duration) (*proc, error) {
	logPath := filepath.Join(logDir, name+".log")
	lf, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(path, args...)
	cmd.Env = env
	cmd.Stderr = lf
	cmd.SysProcAttr = childAttr()
	out, err := cmd.StdoutPipe()
	if err != nil {
		lf.Close()
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		lf.Close()
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	p := &proc{name: name, cmd: cmd, log: logPath, done: make(chan struct{})}
	addrc := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(out)
		found := false
		for sc.Scan() {
			fmt.Fprintln(lf, sc.Text())
			if m := ready.FindStringSubmatch(sc.Text()); m != nil && !found {
				found = true
				addrc <- m[1]
			}
		}
		p.err = cmd.Wait()
		lf.Close()
		close(p.done)
	}()
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case p.addr = <-addrc:
		return p, nil
	case <-p.done:
		return nil, fmt.Errorf("%s exited before it was ready (%v); log %s:\n%s", name, p.err, logPath, tail(logPath, 20))
	case <-t.C:
	case <-ctx.Done():
	}
	p.stop()
	return nil, fmt.Errorf("%s did not become ready within %v; log %s:\n%s", name, timeout, logPath, tail(logPath, 20))
}

// stop sends SIGTERM and waits, then kills after 15 s.
func (p *proc) stop() {
	if p == nil {
		return
	}
	select {
	case <-p.done:
		return
	default:
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(15 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.done
	}
}

// alive reports an error if the process has exited.
func (p *proc) alive() error {
	select {
	case <-p.done:
		return fmt.Errorf("%s exited (%v); log %s:\n%s", p.name, p.err, p.log, tail(p.log, 20))
	default:
		return nil
	}
}

func tail(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// childEnv is a minimal environment for a child: nothing of the harness's
// own configuration (DATABASE_URL, MOCKLLM_*, ...) leaks in, except the Go
// runtime settings, which apply to every child alike.
func childEnv(extra ...string) []string {
	var env []string
	for _, k := range []string{"PATH", "HOME", "TMPDIR", "GOMAXPROCS", "GOGC", "GOMEMLIMIT", "GODEBUG"} {
		if v, ok := os.LookupEnv(k); ok {
			env = append(env, k+"="+v)
		}
	}
	return append(env, extra...)
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func randomKey() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return base64.StdEncoding.EncodeToString(b)
}

// createDatabase creates an empty database bench_<random> on the server of
// baseURL and returns its URL and a function that drops it.
func createDatabase(ctx context.Context, baseURL string) (string, string, func(), error) {
	cctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	conn, err := pgx.Connect(cctx, baseURL)
	if err != nil {
		return "", "", nil, fmt.Errorf("connect to PostgreSQL: %w", err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	name := "bench_" + randomHex(6)
	if _, err := conn.Exec(cctx, "CREATE DATABASE "+name); err != nil {
		return "", "", nil, fmt.Errorf("create database: %w", err)
	}
	drop := func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		c, err := pgx.Connect(ctx, baseURL)
		if err != nil {
			fmt.Fprintf(os.Stderr, "bench: could not drop database %s: %v\n", name, err)
			return
		}
		defer c.Close(ctx)
		if _, err := c.Exec(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err != nil {
			fmt.Fprintf(os.Stderr, "bench: could not drop database %s: %v\n", name, err)
		}
	}
	u, err := url.Parse(baseURL)
	if err != nil {
		drop()
		return "", "", nil, err
	}
	u.Path = "/" + name
	return u.String(), name, drop, nil
}

// admin calls the router's admin API.
type admin struct {
	base, token string
	c           *http.Client
}

func (a admin) call(ctx context.Context, method, path string, body, out any, want int) error {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, a.base+"/api/v1"+path, rd)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+a.token)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := a.c.Do(req)
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != want {
		return fmt.Errorf("%s %s = %d, want %d: %.300s", method, path, resp.StatusCode, want, b)
	}
	if out != nil {
		return json.Unmarshal(b, out)
	}
	return nil
}

// configureRouter creates, through the admin API, for every scenario a
// provider pointing at the mock with the scenario's X-Mock-* headers as its
// extra headers, a key, and a model bench-<scenario> with one route; then
// one client key, whose token it returns.
func configureRouter(ctx context.Context, a admin, mockURL string, scenarios []scenario) (string, error) {
	for _, sc := range scenarios {
		prov := "mock-" + sc.name
		if err := a.call(ctx, "POST", "/providers", map[string]any{
			"name": prov, "kind": "openai_compatible", "base_url": mockURL + "/v1", "headers": sc.headers,
		}, nil, http.StatusCreated); err != nil {
			return "", err
		}
		if err := a.call(ctx, "POST", "/providers/"+prov+"/keys", map[string]any{"secret": "sk-bench-" + randomHex(12), "name": "k1"}, nil, http.StatusCreated); err != nil {
			return "", err
		}
		if err := a.call(ctx, "POST", "/models", map[string]any{"name": sc.model()}, nil, http.StatusCreated); err != nil {
			return "", err
		}
		if err := a.call(ctx, "POST", "/models/"+sc.model()+"/routes", map[string]any{"provider": prov, "upstream_model": "mock-gpt"}, nil, http.StatusCreated); err != nil {
			return "", err
		}
	}
	var ck struct {
		Token string `json:"token"`
	}
	if err := a.call(ctx, "POST", "/client-keys", map[string]any{"name": "bench"}, &ck, http.StatusCreated); err != nil {
		return "", err
	}
	if ck.Token == "" {
		return "", errors.New("POST /client-keys returned no token")
	}
	return ck.Token, nil
}
