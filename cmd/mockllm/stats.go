package main

import (
	"net/http"
	"runtime"
	"strconv"
	"sync/atomic"
	"time"
)

// statsPath serves the process's request count and CPU time, so a load
// generator in another process (mockllm -selftest-bench, make bench) can
// tell the mock's own cost per request and check it is not the bottleneck.
const statsPath = "/mock/stats"

// withStats counts requests and serves statsPath; everything else goes to
// next.
func withStats(next http.Handler) http.Handler {
	var n atomic.Uint64
	started := time.Now()
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != statsPath {
			n.Add(1)
			next.ServeHTTP(w, r)
			return
		}
		b := make([]byte, 0, 160)
		b = append(b, `{"requests":`...)
		b = strconv.AppendUint(b, n.Load(), 10)
		b = append(b, `,"cpu_seconds":`...)
		b = strconv.AppendFloat(b, cpuTime().Seconds(), 'f', 6, 64)
		b = append(b, `,"uptime_seconds":`...)
		b = strconv.AppendFloat(b, time.Since(started).Seconds(), 'f', 3, 64)
		b = append(b, `,"gomaxprocs":`...)
		b = strconv.AppendInt(b, int64(runtime.GOMAXPROCS(0)), 10)
		b = append(b, `,"goroutines":`...)
		b = strconv.AppendInt(b, int64(runtime.NumGoroutine()), 10)
		b = append(b, "}\n"...)
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-store")
		_, _ = w.Write(b)
	})
}
