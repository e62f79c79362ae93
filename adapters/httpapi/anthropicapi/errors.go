package anthropicapi

// ErrorType returns the Anthropic error type for an HTTP status: 400
// invalid_request_error (also other 4xx), 401 authentication_error, 402
// billing_error, 403 permission_error, 404 not_found_error, 413
// request_too_large, 429 rate_limit_error, 504 timeout_error, 503 and 529
// overloaded_error, other 5xx api_error.
func ErrorType(status int) string {
	switch status {
	case 401:
		return "authentication_error"
	case 402:
		return "billing_error"
	case 403:
		return "permission_error"
	case 404:
		return "not_found_error"
	case 413:
		return "request_too_large"
	case 429:
		return "rate_limit_error"
	case 503, 529:
		return "overloaded_error"
	case 504:
		return "timeout_error"
	}
	if status >= 400 && status < 500 {
		return "invalid_request_error"
	}
	return "api_error"
}

// ErrorBody returns Anthropic's error envelope,
// {"type":"error","error":{"type":ErrorType(status),"message":message}}, for
// an error response with that status.
func ErrorBody(status int, message string) []byte {
	return appendErrorBody(make([]byte, 0, 64+len(message)), status, message)
}

func appendErrorBody(b []byte, status int, message string) []byte {
	b = append(b, `{"type":"error","error":{"type":`...)
	b = appendString(b, ErrorType(status))
	b = append(b, `,"message":`...)
	b = appendString(b, message)
	return append(b, "}}"...)
}
