package anthropicapi

import "github.com/airouter/airouter/core/jsonx"

// appendString appends s as a JSON string; invalid UTF-8 becomes U+FFFD.
func appendString(b []byte, s string) []byte { return jsonx.AppendString(b, s) }
