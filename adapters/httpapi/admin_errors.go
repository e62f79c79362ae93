package httpapi

import (
	"context"
	"errors"
	"log/slog"
	"net/http"

	"github.com/danielgtaylor/huma/v2"

	"github.com/airouter/airouter/core/domain"
	"github.com/airouter/airouter/core/gateway"
)

type adminHandlers struct {
	a   *gateway.Admin
	log *slog.Logger
}

// problem maps a domain error to an RFC 9457 problem. Only internal errors
// are logged, and their detail is not shown.
func (h *adminHandlers) problem(ctx context.Context, err error) error {
	msg := domain.ErrorMessage(err)
	var field string
	var de *domain.Error
	if errors.As(err, &de) {
		field, msg = de.Field, de.Msg
	}
	detail := func() []error {
		if field == "" {
			return nil
		}
		return []error{&huma.ErrorDetail{Location: "body." + field, Message: msg}}
	}
	full := msg
	if field != "" {
		full = field + ": " + msg
	}
	switch domain.ErrorCode(err) {
	case domain.CodeInvalid:
		return huma.Error422UnprocessableEntity(full, detail()...)
	case domain.CodeNotFound:
		return huma.Error404NotFound(full)
	case domain.CodeConflict:
		return huma.Error409Conflict(full, detail()...)
	case domain.CodeUnauthorized:
		return huma.Error401Unauthorized(full)
	case domain.CodeForbidden:
		return huma.Error403Forbidden(full)
	case domain.CodeUnavailable:
		return huma.Error503ServiceUnavailable(full)
	case domain.CodeRateLimited:
		return huma.Error429TooManyRequests(full)
	case domain.CodeTimeout:
		return huma.Error504GatewayTimeout(full)
	case domain.CodeUpstream:
		return huma.Error502BadGateway(full)
	}
	h.log.ErrorContext(ctx, "admin API internal error", "err", err)
	return huma.Error500InternalServerError("internal error")
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
