package anthropicapi

import "github.com/airouter/airouter/core/domain"

// appendString appends s as a JSON string; invalid UTF-8 becomes U+FFFD.
func appendString(b []byte, s string) []byte { return domain.AppendJSONString(b, s) }
