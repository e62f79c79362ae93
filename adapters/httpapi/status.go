package httpapi

import (
	"errors"

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
	switch domain.ErrorCode(err) {
	case domain.CodeInvalid:
		return 400
	case domain.CodeUnauthorized:
		return 401
	case domain.CodeForbidden:
		return 403
	case domain.CodeNotFound:
		return 404
	case domain.CodeConflict:
		return 409
	case domain.CodeRateLimited:
		return 429
	case domain.CodeUnavailable:
		return 503
	case domain.CodeTimeout:
		return 504
	case domain.CodeUpstream:
		return 502
	}
	return 500
}
