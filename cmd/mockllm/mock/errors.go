package mock

import (
	"github.com/airouter/airouter/core/jsonx"
)

type errKind struct {
	openAIType, openAICode, openAIMsg string // openAICode "" renders as null
	anthropicType, anthropicMsg       string
}

// errKinds are the error bodies of the statuses the mock knows, as OpenAI
// and Anthropic write them.
var errKinds = map[int]errKind{
	400: {"invalid_request_error", "", "Invalid request.", "invalid_request_error", "Invalid request."},
	401: {"invalid_request_error", "invalid_api_key", "Incorrect API key provided.", "authentication_error", "invalid x-api-key"},
	403: {"invalid_request_error", "unsupported_country_region_territory", "Permission denied.", "permission_error", "Your API key does not have permission to use the specified resource."},
	404: {"invalid_request_error", "unknown_url", "Unknown request URL.", "not_found_error", "Not found."},
	405: {"invalid_request_error", "method_not_supported", "Method not allowed.", "invalid_request_error", "Method not allowed."},
	413: {"invalid_request_error", "request_too_large", "Request too large.", "request_too_large", "Request exceeds the maximum allowed number of bytes."},
	429: {"requests", "rate_limit_exceeded", "Rate limit reached for requests. Please try again later.", "rate_limit_error", "Number of request tokens has exceeded your per-minute rate limit."},
	500: {"server_error", "", "The server had an error while processing your request. Sorry about that!", "api_error", "Internal server error"},
	503: {"server_error", "", "The engine is currently overloaded, please try again later.", "api_error", "Service unavailable"},
	504: {"server_error", "", "Gateway timeout.", "timeout_error", "Request timed out"},
	529: {"server_error", "", "The server is overloaded, please try again later.", "overloaded_error", "Overloaded"},
}

// errorKind is status's entry in errKinds; an unknown status gets a generic
// server error (5xx) or invalid request (the rest).
func errorKind(status int) errKind {
	if k, ok := errKinds[status]; ok {
		return k
	}
	if status >= 500 {
		return errKind{"server_error", "", "The server had an error while processing your request.", "api_error", "Internal server error"}
	}
	return errKinds[400]
}

// contentPolicy is the kind of a refusal by the content filter, whatever
// status carries it.
var contentPolicy = errKind{"invalid_request_error", ErrorCodeContentPolicy,
	"Your request was rejected as a result of our safety system: the prompt was flagged as potentially violating our usage policies.",
	"invalid_request_error", "Your prompt was flagged by our content filtering policy."}

// appendError renders the error body; msg, when set, replaces the default
// message, and code, when set, the OpenAI error code (ErrorCodeContentPolicy
// also the type and default message, for both providers).
func appendError(dst []byte, prov provider, status int, msg, code string, salt uint32, id uint64) []byte {
	k := errorKind(status)
	switch code {
	case "":
	case ErrorCodeContentPolicy:
		k = contentPolicy
	default:
		k.openAICode = code
	}
	if prov == anthropic {
		if msg == "" {
			msg = k.anthropicMsg
		}
		dst = append(dst, `{"type":"error","error":{"type":"`...)
		dst = append(dst, k.anthropicType...)
		dst = append(dst, `","message":`...)
		dst = jsonx.AppendString(dst, msg)
		dst = append(dst, `},"request_id":"req_mock`...)
		dst = appendID(dst, salt, id)
		return append(dst, `"}`...)
	}
	if msg == "" {
		msg = k.openAIMsg
	}
	dst = append(dst, `{"error":{"message":`...)
	dst = jsonx.AppendString(dst, msg)
	dst = append(dst, `,"type":"`...)
	dst = append(dst, k.openAIType...)
	dst = append(dst, `","param":null,"code":`...)
	if k.openAICode == "" {
		dst = append(dst, "null"...)
	} else {
		dst = append(dst, '"')
		dst = append(dst, k.openAICode...)
		dst = append(dst, '"')
	}
	return append(dst, "}}"...)
}
