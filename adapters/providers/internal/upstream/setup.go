package upstream

import "github.com/airouter/airouter/core/domain"

// Setup is what differs between the adapters' constructors: the paths of the
// chat and probe endpoints below the base URL, how the key is sent, how
// error answers are classed, and the headers sent unless the provider's set
// them.
type Setup struct {
	Path          string // the chat (or messages) endpoint, appended to the base URL
	ModelsPath    string // the probe's endpoint, appended to the base URL
	Auth          Auth
	Classify      Classifier
	Defaults      map[string]string // headers sent unless the provider's headers set them
	DenyNonPublic bool              // refuse non-public addresses (see DenyNonPublic)
}

// Option configures the shared part of an adapter's client: the options
// every adapter's New takes.
type Option func(*Setup)

// WithDenyNonPublic makes the client refuse to connect to loopback, private,
// link-local (cloud metadata), CGNAT and unspecified addresses, checked on
// every dial after name resolution (UPSTREAM_ALLOW_PRIVATE=false).
func WithDenyNonPublic(deny bool) Option { return func(s *Setup) { s.DenyNonPublic = deny } }

// Build sets up the shared part of the client of provider p whose base URL
// is base (BaseURL, trimmed as the adapter needs): the chat and probe
// endpoints, and the Client with p's timeouts (defaults filled in) and
// headers (ExtraHeaders). A base that makes no absolute http(s) URL is a
// domain.CodeInvalid error on base_url; invalid headers, one on headers.
// opts (the adapter's constructor's options) are applied to s first.
func Build(p domain.Provider, base string, s Setup, opts ...Option) (chat, models Endpoint, c *Client, err error) {
	for _, o := range opts {
		o(&s)
	}
	chat, err = ParseEndpoint(base + s.Path)
	if err != nil {
		return Endpoint{}, Endpoint{}, nil, &domain.Error{Code: domain.CodeInvalid, Field: "base_url", Msg: err.Error()}
	}
	models, _ = ParseEndpoint(base + s.ModelsPath) // valid when chat is: the same scheme and host
	header, err := ExtraHeaders(p.Headers)
	if err != nil {
		return Endpoint{}, Endpoint{}, nil, err
	}
	for k, v := range s.Defaults {
		if header.Get(k) == "" {
			header.Set(k, v)
		}
	}
	return chat, models, NewClient(p.Timeouts.WithDefaults(), header, s.Auth, s.Classify, s.DenyNonPublic), nil
}
