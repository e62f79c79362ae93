package providertest

import (
	"encoding/json"
	"fmt"

	"net/http"
)

// writeError writes an error in the wire's format.
func (u *Upstream) writeError(w http.ResponseWriter, b Behavior) {
	msg := b.ErrMessage
	if msg == "" {
		msg = fmt.Sprintf("fake upstream error %d", b.Status)
	}
	var body []byte
	switch {
	case b.RawErrorBody != "":
		w.Header().Set("Content-Type", "text/html")
		body = []byte(b.RawErrorBody)
	case u.Wire == WireAnthropic:
		typ := b.ErrType
		if typ == "" {
			typ = anthropicErrorType(b.Status)
		}
		body, _ = json.Marshal(map[string]any{"type": "error", "error": map[string]string{"type": typ, "message": msg}, "request_id": "req_011CSHoEeqs5C35K2UUqR7Fy"})
	case u.Wire == WireArk:
		typ, code := arkError(b.Status)
		if b.ErrType != "" {
			typ = b.ErrType
		}
		if b.ErrCode != "" {
			code = b.ErrCode
		}
		body = mustJSON(struct {
			Error struct {
				Code    string `json:"code"`
				Message string `json:"message"`
				Param   string `json:"param"`
				Type    string `json:"type"`
			} `json:"error"`
		}{Error: struct {
			Code    string `json:"code"`
			Message string `json:"message"`
			Param   string `json:"param"`
			Type    string `json:"type"`
		}{code, msg + " Request id: 0217426324345", "", typ}})
	default:
		typ, code := openaiError(b.Status)
		if b.ErrType != "" {
			typ = b.ErrType
		}
		if b.ErrCode != "" {
			code = b.ErrCode
		}
		var c any
		if code != "" {
			c = code
		}
		body = mustJSON(struct {
			Error struct {
				Message string `json:"message"`
				Type    string `json:"type"`
				Param   any    `json:"param"`
				Code    any    `json:"code"`
			} `json:"error"`
		}{Error: struct {
			Message string `json:"message"`
			Type    string `json:"type"`
			Param   any    `json:"param"`
			Code    any    `json:"code"`
		}{msg, typ, nil, c}})
	}
	if w.Header().Get("Content-Type") == "" {
		w.Header().Set("Content-Type", "application/json")
	}
	w.WriteHeader(b.Status)
	w.Write(body)
}

func anthropicErrorType(status int) string {
	switch status {
	case 400:
		return "invalid_request_error"
	case 401:
		return "authentication_error"
	case 403:
		return "permission_error"
	case 404:
		return "not_found_error"
	case 413:
		return "request_too_large"
	case 429:
		return "rate_limit_error"
	case 529:
		return "overloaded_error"
	default:
		return "api_error"
	}
}

func openaiError(status int) (typ, code string) {
	switch status {
	case 400:
		return "invalid_request_error", ""
	case 401:
		return "invalid_request_error", "invalid_api_key"
	case 403:
		return "invalid_request_error", "unsupported_country_region_territory"
	case 404:
		return "invalid_request_error", "model_not_found"
	case 429:
		return "requests", "rate_limit_exceeded"
	case 503:
		return "server_error", "service_unavailable"
	default:
		return "server_error", ""
	}
}

// arkError gives the type and code of Ark's public error codes.
func arkError(status int) (typ, code string) {
	switch status {
	case 400:
		return "BadRequest", "InvalidParameter"
	case 401:
		return "Unauthorized", "AuthenticationError"
	case 403:
		return "Forbidden", "AccessDenied"
	case 404:
		return "NotFound", "InvalidEndpointOrModel.NotFound"
	case 429:
		return "TooManyRequests", "RateLimitExceeded.EndpointRPMExceeded"
	case 503:
		return "ServiceUnavailable", "ServiceUnavailable"
	default:
		return "InternalServiceError", "InternalServiceError"
	}
}
