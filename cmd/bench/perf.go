package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// perfProfile samples a process with perf for d and returns the top
// functions, by self time and by inclusive (children) time. The router
// has no pprof endpoint, and perf sees the whole process, runtime
// included; Go keeps frame pointers, so call graphs are reliable.
func perfProfile(ctx context.Context, pid int, d time.Duration, dir string) (string, error) {
	perf, err := exec.LookPath("perf")
	if err != nil {
		return "", errors.New("perf is not installed")
	}
	data := filepath.Join(dir, "router.perf.data")
	rec := exec.CommandContext(ctx, perf, "record", "-F", "999", "-g", "-p", strconv.Itoa(pid), "-o", data, "--", "sleep", fmt.Sprint(d.Seconds()))
	var stderr bytes.Buffer
	rec.Stderr = &stderr
	if err := rec.Run(); err != nil {
		return "", fmt.Errorf("perf record: %v: %s", err, strings.TrimSpace(stderr.String()))
	}
	dso, err := perfReport(ctx, perf, data, nil, 5, "--no-children", "--sort", "dso")
	if err != nil {
		return "", err
	}
	// Where the time goes, by caller: skip the kernel's and the
	// runtime's own frames (scheduler, goexit), which every Go server
	// shares, to show the request path.
	incl, err := perfReport(ctx, perf, data, func(l string) bool {
		return !strings.Contains(l, "[k]") && !strings.Contains(l, "] runtime.") && !strings.Contains(l, "] internal/runtime")
	}, 40, "--children", "--sort", "symbol")
	if err != nil {
		return "", err
	}
	self, err := perfReport(ctx, perf, data, nil, 25, "--no-children", "--sort", "symbol", "--dsos", filepath.Base(binaryOf(pid)))
	if err != nil {
		return "", err
	}
	return "Samples by object:\n" + dso +
		"\nInclusive time of the request path (% of all samples; kernel and Go runtime frames omitted):\n" + incl +
		"\nSelf time in the router binary (% of all samples):\n" + self, nil
}

// binaryOf is the executable of a process.
func binaryOf(pid int) string {
	p, err := os.Readlink(fmt.Sprintf("/proc/%d/exe", pid))
	if err != nil {
		return "airouter"
	}
	return p
}

// perfReport returns the first n lines of perf report that keep passes (all
// if keep is nil), without the trailing empty columns.
func perfReport(ctx context.Context, perf, data string, keep func(string) bool, n int, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, perf, append([]string{"report", "-i", data, "--stdio", "-g", "none", "--percent-limit", "0.5"}, args...)...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("perf report: %v: %s", err, strings.TrimSpace(stderr.String()))
	}
	var lines []string
	for line := range strings.SplitSeq(string(out), "\n") {
		t := strings.TrimSpace(line)
		if t == "" || strings.HasPrefix(t, "#") || !strings.Contains(t, "%") {
			continue
		}
		if keep != nil && !keep(t) {
			continue
		}
		for strings.HasSuffix(t, " -") || strings.HasSuffix(t, "\t-") {
			t = strings.TrimSpace(t[:len(t)-1])
		}
		lines = append(lines, "  "+t)
		if len(lines) == n {
			break
		}
	}
	if len(lines) == 0 {
		return "", errors.New("perf report found no samples")
	}
	return strings.Join(lines, "\n") + "\n", nil
}
