// Package core_test enforces the hexagon's dependency rules on the whole
// module: the core stays pure, ports depend only on the domain, adapters do
// not import each other, sqlc's code stays private to the PostgreSQL adapter
// and only cmd reads the environment.
package core_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

const module = "github.com/airouter/airouter"

type pkg struct {
	ImportPath string
	Dir        string
	Imports    []string
	GoFiles    []string
	Standard   bool
}

func listPackages(t *testing.T) []pkg {
	t.Helper()
	cmd := exec.Command("go", "list", "-e", "-json", module+"/...")
	cmd.Dir = ".."
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	var pkgs []pkg
	dec := json.NewDecoder(bytes.NewReader(out))
	for dec.More() {
		var p pkg
		if err := dec.Decode(&p); err != nil {
			t.Fatal(err)
		}
		pkgs = append(pkgs, p)
	}
	if len(pkgs) < 5 {
		t.Fatalf("go list found only %d packages", len(pkgs))
	}
	return pkgs
}

func isStd(path string) bool {
	first, _, _ := strings.Cut(path, "/")
	return !strings.Contains(first, ".")
}

func rel(path string) string { return strings.TrimPrefix(strings.TrimPrefix(path, module), "/") }

// adapterOf returns the top-level adapter a package belongs to ("" if none).
func adapterOf(p string) string {
	r := rel(p)
	if !strings.HasPrefix(r, "adapters/") {
		return ""
	}
	parts := strings.Split(r, "/")
	return parts[1]
}

func TestDependencyRules(t *testing.T) {
	t.Parallel()
	forbiddenInCore := []string{"github.com/jackc/", "github.com/danielgtaylor/huma", "github.com/go-chi/", "go.temporal.io/", "github.com/golang-migrate/", "github.com/prometheus/"}
	for _, p := range listPackages(t) {
		r := rel(p.ImportPath)
		for _, imp := range p.Imports {
			own := strings.HasPrefix(imp, module)
			ir := rel(imp)
			switch {
			case r == "core" || strings.HasPrefix(r, "core/"):
				for _, f := range forbiddenInCore {
					if strings.HasPrefix(imp, f) {
						t.Errorf("%s imports %s: core may use only the standard library, core packages and ports", r, imp)
					}
				}
				if !isStd(imp) && !own {
					t.Errorf("%s imports third-party %s", r, imp)
				}
				if own && !strings.HasPrefix(ir, "core/") && ir != "ports" {
					t.Errorf("%s imports %s: core may import only core/... and ports", r, ir)
				}
				if r == "core/jsonx" && own {
					t.Errorf("core/jsonx imports %s: the JSON scanner depends on nothing", ir)
				}
				if r == "core/domain" && own && ir != "core/jsonx" {
					t.Errorf("core/domain imports %s: the domain depends only on the JSON scanner", ir)
				}
				if r == "core/routing" && own && ir != "core/domain" {
					t.Errorf("core/routing imports %s: routing depends only on the domain", ir)
				}
			case r == "ports" || strings.HasPrefix(r, "ports/"):
				if own && ir != "core/domain" && !(strings.HasPrefix(r, "ports/") && ir == "ports") {
					t.Errorf("%s imports %s: ports depend only on core/domain", r, ir)
				}
				if !isStd(imp) && !own {
					t.Errorf("%s imports third-party %s", r, imp)
				}
			case strings.HasPrefix(r, "adapters/"):
				if a, b := adapterOf(p.ImportPath), adapterOf(imp); b != "" && a != b {
					t.Errorf("%s imports %s: adapters must not import each other", r, ir)
				}
				if own && (ir == "workflows" || strings.HasPrefix(ir, "workflows/") || strings.HasPrefix(ir, "cmd/")) {
					t.Errorf("%s imports %s", r, ir)
				}
			case r == "workflows" || strings.HasPrefix(r, "workflows/"):
				if strings.HasPrefix(ir, "adapters/") && own {
					t.Errorf("%s imports %s: workflows use ports, cmd wires adapters", r, ir)
				}
			}
			if own && strings.HasPrefix(ir, "adapters/postgres/sqlcgen") && !strings.HasPrefix(r, "adapters/postgres") {
				t.Errorf("%s imports sqlc's generated package, which is private to adapters/postgres", r)
			}
		}
	}
}

// TestEnvironmentOnlyInCmd: configuration is read once, in cmd.
func TestEnvironmentOnlyInCmd(t *testing.T) {
	t.Parallel()
	for _, p := range listPackages(t) {
		r := rel(p.ImportPath)
		if strings.HasPrefix(r, "cmd/") || r == "cmd" {
			continue
		}
		for _, f := range p.GoFiles {
			fh, err := os.Open(filepath.Join(p.Dir, f))
			if err != nil {
				t.Fatal(err)
			}
			sc := bufio.NewScanner(fh)
			for n := 1; sc.Scan(); n++ {
				line := sc.Text()
				if strings.Contains(line, "os.Getenv(") || strings.Contains(line, "os.LookupEnv(") || strings.Contains(line, "os.Environ(") {
					t.Errorf("%s/%s:%d reads the environment; only cmd may", r, f, n)
				}
			}
			fh.Close()
		}
	}
}

// TestTopLevelLayout: the repository's top level is fixed.
func TestTopLevelLayout(t *testing.T) {
	t.Parallel()
	allowed := map[string]bool{
		"core": true, "ports": true, "adapters": true, "workflows": true, "sql": true, "sqlc.yaml": true, "cmd": true,
		"docker-compose.yml": true, "Makefile": true, "go.mod": true, "go.sum": true, "README.md": true,
		".ci": true, "scripts": true, "testdata": true, "bench": true, ".git": true, ".gitignore": true, ".dev": true, "bin": true,
		".dockerignore": true,
	}
	out, err := exec.Command("git", "-C", "..", "ls-files").Output()
	if err != nil {
		t.Skip("not a git checkout")
	}
	for _, f := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		top, _, _ := strings.Cut(f, "/")
		if top != "" && !allowed[top] {
			t.Errorf("unexpected top-level entry %q", top)
		}
	}
}
