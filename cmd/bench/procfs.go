package main

import (
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/prometheus/procfs"
)

// clockTick is USER_HZ, the unit of /proc/<pid>/stat times; it is 100 on
// every Linux architecture Go supports.
const clockTick = 10 * time.Millisecond

// procFS is the mounted /proc; an error shows when it is read.
func procFS() procfs.FS {
	fs, _ := procfs.NewDefaultFS()
	return fs
}

// procCPU is the user plus system CPU time of a process (all its threads),
// from /proc/<pid>/stat; its resolution is one clock tick (10 ms).
func procCPU(pid int) (time.Duration, error) { return procCPUIn(procFS(), pid) }

func procCPUIn(fs procfs.FS, pid int) (time.Duration, error) {
	p, err := fs.Proc(pid)
	if err != nil {
		return 0, err
	}
	st, err := p.Stat()
	if err != nil {
		return 0, err
	}
	return time.Duration(st.UTime+st.STime) * clockTick, nil
}

// procRSS is a process's resident set size in bytes (VmRSS).
func procRSS(pid int) (int64, error) {
	p, err := procFS().Proc(pid)
	if err != nil {
		return 0, err
	}
	st, err := p.NewStatus()
	if err != nil {
		return 0, err
	}
	return int64(st.VmRSS), nil
}

// ticks rounds seconds of /proc/stat (read in clock ticks) to a duration.
func ticks(s float64) time.Duration {
	return time.Duration(math.Round(s*float64(time.Second/clockTick))) * clockTick
}

// machineCPU returns the busy and total CPU time of the whole machine, from
// the first line of /proc/stat.
func machineCPU() (busy, total time.Duration, err error) {
	st, err := procFS().Stat()
	if err != nil {
		return 0, 0, err
	}
	// user nice system idle iowait irq softirq steal (guest times are
	// already in user and nice).
	c := st.CPUTotal
	idle := ticks(c.Idle) + ticks(c.Iowait)
	total = ticks(c.User) + ticks(c.Nice) + ticks(c.System) + idle + ticks(c.IRQ) + ticks(c.SoftIRQ) + ticks(c.Steal)
	return total - idle, total, nil
}

// pgBackends lists the PostgreSQL server processes connected to database
// db, by their process titles ("postgres: user db host(port) state").
func pgBackends(db string) []int {
	procs, err := procFS().AllProcs()
	if err != nil {
		return nil
	}
	var pids []int
	for _, p := range procs {
		args, err := p.CmdLine()
		if err != nil || len(args) == 0 || !strings.HasPrefix(args[0], "postgres: ") {
			continue
		}
		f := strings.Fields(strings.Join(args, " "))
		if len(f) >= 3 && f[2] == db {
			pids = append(pids, p.PID)
		}
	}
	return pids
}

// cpuSum is the summed CPU time of pids; processes that are gone count 0.
func cpuSum(pids []int) time.Duration {
	var d time.Duration
	for _, p := range pids {
		if c, err := procCPU(p); err == nil {
			d += c
		}
	}
	return d
}

// machine describes the host for the report.
type machine struct {
	CPUModel string
	Cores    int // logical CPUs in /proc/cpuinfo
	Kernel   string
	MemTotal string
}

func readMachine() machine {
	fs := procFS()
	m := machine{CPUModel: "unknown"}
	if cpus, err := fs.CPUInfo(); err == nil {
		m.Cores = len(cpus)
		if len(cpus) > 0 && cpus[0].ModelName != "" {
			m.CPUModel = cpus[0].ModelName
		}
	}
	if f, err := fs.SysctlStrings("kernel.osrelease"); err == nil {
		m.Kernel = strings.Join(f, " ")
	}
	if mi, err := fs.Meminfo(); err == nil && mi.MemTotal != nil {
		m.MemTotal = fmt.Sprintf("%d kB", *mi.MemTotal)
	}
	return m
}

func loadAvg() string {
	l, err := procFS().LoadAvg()
	if err != nil {
		return "unknown"
	}
	return fmt.Sprintf("%.2f %.2f %.2f", l.Load1, l.Load5, l.Load15)
}
