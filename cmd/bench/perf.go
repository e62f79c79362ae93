package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
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
	self, err := perfReport(ctx, perf, data, "--no-children", 25)
	if err != nil {
		return "", err
	}
	incl, err := perfReport(ctx, perf, data, "--children", 30)
	if err != nil {
		return "", err
	}
	return "Self time (flat):\n" + self + "\nInclusive time (function and its callees):\n" + incl, nil
}

// perfReport returns the first n symbol lines of perf report.
func perfReport(ctx context.Context, perf, data, mode string, n int) (string, error) {
	cmd := exec.CommandContext(ctx, perf, "report", "-i", data, "--stdio", mode, "--sort", "symbol", "-g", "none", "--percent-limit", "0.5")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("perf report: %v: %s", err, strings.TrimSpace(stderr.String()))
	}
	var lines []string
	for line := range strings.SplitSeq(string(out), "\n") {
		t := strings.TrimSpace(line)
		if t == "" || strings.HasPrefix(t, "#") {
			continue
		}
		if !strings.Contains(t, "%") {
			continue
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
