package main

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"time"
)

// readRSS returns the resident set size of process pid in bytes, from the
// VmRSS line of /proc/PID/status.
func readRSS(pid int) (int64, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, fmt.Errorf("read rss of %d: %w", pid, err)
	}
	defer f.Close()
	return parseVmRSS(f)
}

func parseVmRSS(r io.Reader) (int64, error) {
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		line := sc.Bytes()
		if !bytes.HasPrefix(line, []byte("VmRSS:")) {
			continue
		}
		fields := bytes.Fields(line[len("VmRSS:"):])
		if len(fields) != 2 || string(fields[1]) != "kB" {
			return 0, fmt.Errorf("parse VmRSS %q: %w", line, errBadStatus)
		}
		kb, err := strconv.ParseInt(string(fields[0]), 10, 64)
		if err != nil {
			return 0, fmt.Errorf("parse VmRSS %q: %w", line, err)
		}
		return kb * 1024, nil
	}
	if err := sc.Err(); err != nil {
		return 0, fmt.Errorf("scan status: %w", err)
	}
	return 0, fmt.Errorf("no VmRSS line: %w", errBadStatus)
}

var errBadStatus = errors.New("unexpected /proc status format")

// clockTicks is USER_HZ, the unit of utime and stime in /proc/PID/stat. It
// is 100 on every Linux architecture Go supports.
const clockTicks = 100

// readCPU returns the user+system CPU time process pid has used.
func readCPU(pid int) (time.Duration, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, fmt.Errorf("read cpu of %d: %w", pid, err)
	}
	return parseStatCPU(data)
}

// parseStatCPU reads utime and stime (fields 14 and 15) of a /proc/PID/stat
// line. The command name (field 2) may hold spaces and parentheses, so
// fields are counted after the last ')'.
func parseStatCPU(data []byte) (time.Duration, error) {
	i := bytes.LastIndexByte(data, ')')
	if i < 0 {
		return 0, fmt.Errorf("parse stat: %w", errBadStatus)
	}
	fields := bytes.Fields(data[i+1:])
	// fields[0] is field 3 (state); utime is field 14, stime field 15.
	if len(fields) < 13 {
		return 0, fmt.Errorf("parse stat: %d fields: %w", len(fields), errBadStatus)
	}
	var ticks int64
	for _, f := range fields[11:13] {
		v, err := strconv.ParseInt(string(f), 10, 64)
		if err != nil {
			return 0, fmt.Errorf("parse stat: %w", err)
		}
		ticks += v
	}
	return time.Duration(ticks) * time.Second / clockTicks, nil
}

// cpuSample is the CPU time used so far by the server (when known) and by
// this process.
type cpuSample struct {
	at     time.Time
	server time.Duration
	self   time.Duration
}

func sampleCPU(serverPID int) cpuSample {
	s := cpuSample{at: time.Now()}
	if serverPID > 0 {
		s.server, _ = readCPU(serverPID) // a vanished server shows as zero use
	}
	s.self, _ = readCPU(os.Getpid())
	return s
}

// CPUStats is the CPU used during the measurement window, in cores (CPU
// seconds per wall second).
type CPUStats struct {
	ServerCores float64 `json:"serverCores"`
	ClientCores float64 `json:"clientCores"`
}

func cpuBetween(a, b cpuSample, haveServer bool) *CPUStats {
	wall := b.at.Sub(a.at).Seconds()
	if wall <= 0 {
		return nil
	}
	st := &CPUStats{ClientCores: (b.self - a.self).Seconds() / wall}
	if haveServer {
		st.ServerCores = (b.server - a.server).Seconds() / wall
	}
	return st
}

// loadAverage returns the 1, 5 and 15 minute load averages, or "" when
// /proc/loadavg cannot be read.
func loadAverage() string {
	data, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return ""
	}
	f := bytes.Fields(data)
	if len(f) < 3 {
		return ""
	}
	return string(bytes.Join(f[:3], []byte(" ")))
}
