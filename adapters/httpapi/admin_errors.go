package httpapi

import (
	"context"
	"crypto/sha256"
	"errors"
	"log/slog"
	"net/http"
	"time"

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

// adminStatus is the admin API's status of a domain error code: codeStatus's,
// but 422 for invalid input; 0 for internal errors (and unknown codes).
func adminStatus(c domain.Code) int {
	if c == domain.CodeInvalid {
		return http.StatusUnprocessableEntity
	}
	return codeStatus[c]
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

// dtos converts a list of domain values with one DTO function; never nil,
// so that an empty list is [] in JSON.
func dtos[T, D any](in []T, dto func(T) D) []D {
	out := make([]D, 0, len(in))
	for _, v := range in {
		out = append(out, dto(v))
	}
	return out
}

// optTime is t's address, or nil for the zero time (omitted in JSON).
func optTime(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

// toggle is one of a pair of operations that turn a resource on or off.
type toggle struct {
	on                bool
	id, path, summary string
}

// registerToggles registers one POST operation a toggle, each calling set
// with the toggle's on and answering the resource set returns, converted
// by dto; errs are the statuses they document beyond adminErrors.
func registerToggles[I, D, B any](api huma.API, h *adminHandlers, tag string, errs []int, set func(ctx context.Context, in *I, on bool) (D, error), dto func(D) B, toggles ...toggle) {
	for _, t := range toggles {
		huma.Register(api, op(t.id, http.MethodPost, t.path, t.summary, tag, errs...),
			func(ctx context.Context, in *I) (*struct{ Body B }, error) {
				v, err := set(ctx, in, t.on)
				if err != nil {
					return nil, h.problem(ctx, err)
				}
				return &struct{ Body B }{Body: dto(v)}, nil
			})
	}
}

// registerDelete registers o as a delete: it answers 204 with no body once
// do succeeds.
func registerDelete[I any](api huma.API, h *adminHandlers, o huma.Operation, do func(ctx context.Context, in *I) error) {
	o.DefaultStatus = http.StatusNoContent
	registerNoBody(api, h, o, do)
}

// registerNoBody registers an operation that answers o.DefaultStatus with no
// body (a delete, a cancel) once do succeeds.
func registerNoBody[I any](api huma.API, h *adminHandlers, o huma.Operation, do func(ctx context.Context, in *I) error) {
	huma.Register(api, o, func(ctx context.Context, in *I) (*struct{}, error) {
		if err := do(ctx, in); err != nil {
			return nil, h.problem(ctx, err)
		}
		return nil, nil
	})
}
