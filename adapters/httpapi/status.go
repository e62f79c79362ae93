package httpapi

import (
	"errors"
	"net/http"

	"github.com/airouter/airouter/core/domain"
)

// StatusOf returns the HTTP status the OpenAI-compatible API answers a
// failed request with. It is the only mapping of the gateway's errors to
// statuses; the gateway records the status it returns in the request log
// (gateway.Options.StatusOf). 499 means the client went away.
func StatusOf(err error) int {
	var ue *domain.UpstreamError
	if errors.As(err, &ue) {
		switch {
		case ue.Class == domain.ClassCanceled:
			return 499
		case ue.Class == domain.ClassRequest && (ue.Status == 401 || ue.Status == 403 || ue.Status == 407):
			// The request's content was refused (a moderation flag sent
			// as 403): the client's credentials with the router are fine,
			// so it must not look like an auth failure.
			return 400
		case ue.Class == domain.ClassRequest && ue.Status >= 400 && ue.Status < 500:
			return ue.Status
		case ue.Class == domain.ClassRequest:
			return 400
		case ue.Class == domain.ClassRateLimited:
			return 429
		case ue.Timeout:
			return 504
		case ue.Status == 503 || ue.Status == 529:
			return 503
		default: // ClassAuth (the router's own key was refused) included
			return 502
		}
	}
	if status, ok := codeStatus[domain.ErrorCode(err)]; ok {
		return status
	}
	return 500
}

// codeStatus maps the domain error codes to HTTP statuses, for both APIs
// (the admin API answers invalid input with 422 instead, see adminStatus);
// internal errors are not in it.
var codeStatus = map[domain.Code]int{
	domain.CodeInvalid:      http.StatusBadRequest,
	domain.CodeUnauthorized: http.StatusUnauthorized,
	domain.CodeForbidden:    http.StatusForbidden,
	domain.CodeNotFound:     http.StatusNotFound,
	domain.CodeConflict:     http.StatusConflict,
	domain.CodeRateLimited:  http.StatusTooManyRequests,
	domain.CodeUnavailable:  http.StatusServiceUnavailable,
	domain.CodeTimeout:      http.StatusGatewayTimeout,
	domain.CodeUpstream:     http.StatusBadGateway,
}
