package httpapi

import (
	"net/http"
	"strconv"
	"time"

	"github.com/airouter/airouter/core/limits"
)

// setRateLimitHeaders writes OpenAI's x-ratelimit headers for a client key
// with limits (and Retry-After when the request was refused by them).
func setRateLimitHeaders(h http.Header, st *limits.Status) {
	if st.LimitRequests > 0 {
		h["X-Ratelimit-Limit-Requests"] = []string{strconv.FormatInt(st.LimitRequests, 10)}
		h["X-Ratelimit-Remaining-Requests"] = []string{strconv.FormatInt(st.RemainingRequests, 10)}
		h["X-Ratelimit-Reset-Requests"] = []string{resetValue(st.ResetRequests)}
	}
	if st.LimitTokens > 0 {
		h["X-Ratelimit-Limit-Tokens"] = []string{strconv.FormatInt(st.LimitTokens, 10)}
		h["X-Ratelimit-Remaining-Tokens"] = []string{strconv.FormatInt(st.RemainingTokens, 10)}
		h["X-Ratelimit-Reset-Tokens"] = []string{resetValue(st.ResetTokens)}
	}
	if st.RetryAfter > 0 {
		h.Set("Retry-After", strconv.FormatInt(int64((st.RetryAfter+time.Second-1)/time.Second), 10))
	}
}

// resetValue formats a duration as OpenAI does ("1s", "6m0s", "20ms").
func resetValue(d time.Duration) string {
	if d < time.Second {
		return strconv.FormatInt(d.Milliseconds(), 10) + "ms"
	}
	return d.Round(time.Second).String()
}
