// Package anthropicapi is the codec of the Anthropic Messages front door
// (POST /v1/messages and /v1/messages/count_tokens) for routes whose upstream
// is not Anthropic. It converts the Messages wire format that Claude Code and
// anthropic-sdk-go send into the router's neutral chat types (OpenAI's Chat
// Completions shape, core/domain) and converts the answers back. It does no
// I/O and imports only the standard library and core/domain.
//
// # How to wire this
//
// Read the body (the handler's size limit applies), then:
//
//	rf, err := anthropicapi.Routing(body) // model, stream, max_tokens, cheaply
//
// Anthropic routes get the client's body natively: send
// anthropicapi.ReplaceModel(body, route.UpstreamModel) unchanged otherwise.
// Every other route gets a translated request:
//
//	req, err := anthropicapi.DecodeRequest(body)
//	// req.Chat is a *domain.ChatRequest: give it to the gateway as if it had
//	// come to /v1/chat/completions (req.Chat.Raw is OpenAI JSON). The
//	// Messages API has no provider field: set req.Chat.Provider from the
//	// X-Provider header if that is honoured here too.
//
// JSON (stream false): on success write 200 with
// anthropicapi.EncodeResponse(req, resp) and Content-Type application/json.
//
// Streaming (stream true): get the first chunk from the gateway before writing
// anything (so that errors keep their status), then write 200 with
// Content-Type text/event-stream and, for every chunk c in order,
//
//	w.Write(enc.Chunk(c)) // enc := anthropicapi.NewStreamEncoder(req); may be empty
//
// The returned bytes are complete SSE events and are valid until the next
// call on enc; flush after each write. When the upstream stream ends normally
// write enc.Finish(). When it fails after the first byte write enc.Fail(status,
// message) and stop: that is Anthropic's mid-stream "event: error". While idle,
// enc.Ping() may be written as a keep-alive. The encoder is not safe for
// concurrent use.
//
// Errors before the first byte (bad body, auth, unknown model, upstream
// failure): compute the HTTP status as for the OpenAI front door
// (gateway.StatusOf) and the message with domain.ErrorMessage, then write that
// status with Content-Type application/json and ErrorBody(status, message)
// (keep Retry-After on 429/503). After the first byte use enc.Fail with the
// same status and message instead; Anthropic clients read the error type from
// the envelope, so the status choice matters there too. Errors returned by
// DecodeRequest and Routing are *domain.Error values with CodeInvalid (400)
// naming the field in Field. Anthropic clients send x-api-key or
// Authorization: Bearer, and anthropic-version, which needs no handling here.
//
// count_tokens on a non-Anthropic route: write 200 with CountTokensResponse(body);
// the number is an estimate, so also set the EstimateHeader response header.
// Anthropic routes answer count_tokens natively (ReplaceModel as above).
package anthropicapi
