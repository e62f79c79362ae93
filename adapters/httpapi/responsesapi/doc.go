// Package responsesapi converts between the OpenAI Responses API
// (POST /v1/responses, as openai-go, Codex CLI and the OpenAI Agents SDK send
// it) and the provider-neutral chat types of core/domain, for routes whose
// upstream does not speak the Responses API itself. It is pure: no I/O, no
// clock or randomness beyond what Options lets the caller fix, standard
// library and core/domain only.
//
// # How to wire this
//
// The handler for POST /v1/responses:
//
//  1. req, err := DecodeRequest(body). On error answer 400 in OpenAI's error
//     envelope: the error is a *domain.Error with CodeInvalid and Field set
//     to the offending parameter (e.g. "input[2].content[0].file_id"), which
//     becomes "param".
//  2. If req.PreviousResponseID != "": load the Stored value saved under
//     that id for this client key (404 when absent or owned by another
//     key), then req.Input = History(prev, req.Input).
//  3. chat, err := req.ChatRequest(). Errors are *domain.Error as in step 1.
//     Send chat through the pipeline like a /v1/chat/completions request
//     (chat.Raw is OpenAI chat-completions JSON; chat.Model is the client's
//     model name, which routing resolves as usual).
//  4. Not streaming (req.Stream false): resp, err := NewResponse(req,
//     completion, Options{}) and write resp as JSON (200). Pipeline errors
//     before this point map to OpenAI's envelope exactly as for chat.
//  5. Streaming: get the first chunk from the pipeline before writing
//     anything (so that errors keep their HTTP status), then write 200 with
//     Content-Type text/event-stream, create enc := NewStreamEncoder(req,
//     Options{}) and write what enc.Chunk(c) returns for every chunk,
//     flushing after each write. When the upstream stream ends, write
//     enc.Finish(). If it fails after the first byte, write enc.Fail(err)
//     instead and end the response (no retry). Responses streams have no
//     "data: [DONE]" line.
//  6. If req.StoreEnabled(): save NewStored(req, resp) under resp.ID with
//     the client key as owner, where resp is the response of step 4 or
//     enc.Response() after Finish or Fail. GET /v1/responses/{id} answers
//     Stored.Response.
//
// What is refused rather than dropped: non-function tools (web_search,
// file_search, ...), file_id references, item_reference items and input
// item types other than message, function_call, function_call_output and
// reasoning (reasoning items are dropped, since other providers cannot take
// them back), background mode, conversation and prompt templates.
package responsesapi
