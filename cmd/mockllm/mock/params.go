package mock

import (
	"errors"
	"fmt"

	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"

	"time"
)

func retryAfterSeconds(d time.Duration) string {
	if d <= 0 {
		return "1"
	}
	return strconv.FormatInt(int64((d+time.Second-1)/time.Second), 10)
}

// params is the effective configuration of one request.
type params struct {
	latency, jitter, ttft time.Duration
	tps                   float64
	tokens, size          int
	errorRate             float64
	errorStatus           int
	errorCode             string
	retryAfter            []string
	stall                 Stall
	cut                   bool
	reset                 Point
	toolCall              ToolCallMode
	toolName              string
}

// params layers the X-Mock-* headers over the Config in one pass over the
// request headers.
func (h *handler) params(hdr http.Header) (params, error) {
	c := &h.cfg
	p := params{
		latency: c.Latency, jitter: c.Jitter, ttft: c.TTFT, tps: c.TPS,
		tokens: c.Tokens, size: c.Size,
		errorRate: c.ErrorRate, errorStatus: c.ErrorStatus, errorCode: c.ErrorCode, retryAfter: h.retryAfter,
		stall: c.Stall, cut: c.Cut, reset: c.Reset, toolCall: c.ToolCall,
	}
	if c.IgnoreHeaders {
		return p, nil
	}
	for k, vs := range hdr {
		if len(k) <= len("X-Mock-") || k[:len("X-Mock-")] != "X-Mock-" || len(vs) == 0 {
			continue
		}
		v := vs[0]
		var err error
		switch k[len("X-Mock-"):] {
		case "Latency":
			p.latency, err = ParseDelay(v)
		case "Jitter":
			p.jitter, err = ParseDelay(v)
		case "Ttft":
			p.ttft, err = ParseDelay(v)
		case "Tps":
			p.tps, err = strconv.ParseFloat(strings.TrimSpace(v), 64)
			if err == nil && (p.tps < 0 || p.tps != p.tps || p.tps > 1e9) {
				err = errors.New("want 0..1e9")
			}
		case "Tokens":
			p.tokens, err = strconv.Atoi(strings.TrimSpace(v))
			if err == nil && (p.tokens < 0 || p.tokens > MaxTokens) {
				err = fmt.Errorf("want 0..%d", MaxTokens)
			}
		case "Size":
			p.size, err = ParseSize(v)
		case "Error-Rate":
			p.errorRate, err = strconv.ParseFloat(strings.TrimSpace(v), 64)
			if err == nil && !(p.errorRate >= 0 && p.errorRate <= 1) {
				err = errors.New("want 0..1")
			}
		case "Error-Status":
			p.errorStatus, err = strconv.Atoi(strings.TrimSpace(v))
			if err == nil && (p.errorStatus < 400 || p.errorStatus > 599) {
				err = errors.New("want 400..599")
			}
		case "Error-Code":
			p.errorCode = strings.TrimSpace(v)
			err = checkErrorCode(p.errorCode)
		case "Retry-After":
			var n int
			n, err = strconv.Atoi(strings.TrimSpace(v))
			if err == nil && n < 0 {
				err = errors.New("want seconds >= 0")
			}
			p.retryAfter = []string{strconv.Itoa(n)}
		case "Stall":
			p.stall, err = ParseStall(v)
		case "Cut":
			p.cut, err = strconv.ParseBool(strings.TrimSpace(v))
		case "Reset":
			p.reset, err = ParsePoint(v)
		case "Tool-Call":
			p.toolCall, err = ParseToolCallMode(v)
			if err != nil && strings.TrimSpace(v) != "" {
				p.toolCall, p.toolName, err = ToolCallAuto, strings.TrimSpace(v), nil
			}
		default:
			err = errors.New("unknown mock header")
		}
		if err != nil {
			return p, fmt.Errorf("header %s: %q: %v", k, v, err)
		}
	}
	return p, nil
}

func (p *params) delay() time.Duration {
	d := p.latency
	if p.jitter > 0 {
		d += time.Duration(rand.Int64N(int64(p.jitter)))
	}
	return d
}

// due is when body event i of a stream is due, relative to its start.
func (p *params) due(i int) time.Duration {
	if p.tps <= 0 || i == 0 {
		return p.ttft
	}
	return p.ttft + time.Duration(float64(i)*float64(time.Second)/p.tps)
}
