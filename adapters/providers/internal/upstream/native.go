package upstream

import (
	"strings"
)

// Sibling returns the endpoint whose path is e's with the suffix old
// replaced by new (e's path with new appended when it does not end in old):
// the other operations of an API that lives under one base URL, e.g.
// {base}/embeddings next to {base}/chat/completions. Query and host are kept.
func (e Endpoint) Sibling(old, new string) Endpoint {
	u := *e.u
	u.Path = strings.TrimSuffix(u.Path, old) + new
	if u.RawPath != "" {
		u.RawPath = strings.TrimSuffix(u.RawPath, old) + new
	}
	return Endpoint{u: &u}
}
