package httpapi

import (
	"context"
	"crypto/sha256"
	"errors"
	"log/slog"
	"net/http"

	"github.com/danielgtaylor/huma/v2"

	"github.com/airouter/airouter/core/domain"
	"github.com/airouter/airouter/core/gateway"
)

// registerAdmin registers the admin API under /api/v1, behind the admin
// token.
func registerAdmin(api huma.API, a *gateway.Admin, token string, log *slog.Logger) {
	admin := huma.NewGroup(api, "/api/v1")
	admin.UseMiddleware(adminAuth(api, sha256.Sum256([]byte(token))))
	ah := &adminHandlers{a: a, log: log}
	ah.registerProviders(admin)
	ah.registerKeys(admin)
	ah.registerModels(admin)
	ah.registerRoutes(admin)
	ah.registerClientKeys(admin)
	ah.registerObservability(admin)
}

type adminHandlers struct {
	a   *gateway.Admin
	log *slog.Logger
}

// adminStatus is the one mapping of domain error codes to HTTP statuses on
// the admin API; 0 for internal errors (and unknown codes).
func adminStatus(c domain.Code) int {
	switch c {
	case domain.CodeInvalid:
		return http.StatusUnprocessableEntity
	case domain.CodeNotFound:
		return http.StatusNotFound
	case domain.CodeConflict:
		return http.StatusConflict
	case domain.CodeUnauthorized:
		return http.StatusUnauthorized
	case domain.CodeForbidden:
		return http.StatusForbidden
	case domain.CodeUnavailable:
		return http.StatusServiceUnavailable
	case domain.CodeRateLimited:
		return http.StatusTooManyRequests
	case domain.CodeTimeout:
		return http.StatusGatewayTimeout
	case domain.CodeUpstream:
		return http.StatusBadGateway
	}
	return 0
}

// problem maps a domain error to an RFC 9457 problem; invalid input and
// conflicts name the field in the problem's errors. Only internal errors
// are logged, and their detail is not shown.
func (h *adminHandlers) problem(ctx context.Context, err error) error {
	code := domain.ErrorCode(err)
	status := adminStatus(code)
	if status == 0 {
		h.log.ErrorContext(ctx, "admin API internal error", "err", err)
		return huma.Error500InternalServerError("internal error")
	}
	msg := domain.ErrorMessage(err)
	var field string
	var de *domain.Error
	if errors.As(err, &de) {
		field, msg = de.Field, de.Msg
	}
	if field == "" {
		return huma.NewError(status, msg)
	}
	full := field + ": " + msg
	if code != domain.CodeInvalid && code != domain.CodeConflict {
		return huma.NewError(status, full)
	}
	return huma.NewError(status, full, &huma.ErrorDetail{Location: "body." + field, Message: msg})
}

// adminErrors are the error statuses every admin operation documents.
var adminErrors = []int{http.StatusBadRequest, http.StatusUnauthorized, http.StatusUnprocessableEntity, http.StatusInternalServerError}

func op(id, method, path, summary, tag string, extra ...int) huma.Operation {
	return huma.Operation{
		OperationID: id,
		Method:      method,
		Path:        path,
		Summary:     summary,
		Tags:        []string{tag},
		Errors:      append(append([]int{}, adminErrors...), extra...),
		Security:    []map[string][]string{{"adminToken": {}}},
	}
}
