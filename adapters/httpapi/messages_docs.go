package httpapi

import (
	"net/http"
	"strconv"

	"github.com/danielgtaylor/huma/v2"
)

// The schemas below document the Anthropic Messages front door after
// Anthropic's Messages API reference. Unknown request fields are accepted.

func anthropicSchemas() map[string]*huma.Schema {
	block := obj("A content block: text, image (base64 or url source), document (PDF), tool_use, tool_result, thinking.", map[string]*huma.Schema{
		"type":        {Type: "string", Enum: []any{"text", "image", "document", "tool_use", "tool_result", "thinking", "redacted_thinking"}},
		"text":        str("Text, for type text."),
		"source":      obj("The image or document: {type: base64, media_type, data} or {type: url, url}.", nil),
		"id":          str("Id of the tool call, for tool_use."),
		"name":        str("Tool name, for tool_use."),
		"input":       obj("Tool arguments, for tool_use.", nil),
		"tool_use_id": str("The tool_use this tool_result answers."),
		"content":     {Description: "The result, for tool_result: a string or blocks.", OneOf: []*huma.Schema{{Type: "string"}, arr(&huma.Schema{Type: "object"}, "")}},
		"is_error":    boolean("The tool failed, for tool_result."),
	}, "type")
	return map[string]*huma.Schema{
		"AnthropicContentBlock": block,
		"AnthropicMessage": obj("A turn of the conversation.", map[string]*huma.Schema{
			"role":    {Type: "string", Enum: []any{"user", "assistant"}},
			"content": {Description: "A string or an array of content blocks.", OneOf: []*huma.Schema{{Type: "string"}, arr(ref("AnthropicContentBlock"), "")}},
		}, "role", "content"),
		"AnthropicTool": obj("A client tool.", map[string]*huma.Schema{
			"name":         str(""),
			"description":  str(""),
			"input_schema": obj("JSON Schema of the input.", nil),
		}, "name", "input_schema"),
		"MessagesRequest": obj("A Messages API request, as Anthropic defines it. On translated routes top_k and cache_control are dropped and thinking becomes reasoning_effort.", map[string]*huma.Schema{
			"model":          {Type: "string", Description: "A model name from GET /v1/models.", Examples: []any{"demo"}},
			"max_tokens":     integer("Maximum tokens to generate."),
			"messages":       {Type: "array", Items: ref("AnthropicMessage"), MinItems: intPtr(1)},
			"system":         {Description: "A system prompt: a string or text blocks.", OneOf: []*huma.Schema{{Type: "string"}, arr(ref("AnthropicContentBlock"), "")}},
			"stop_sequences": arr(&huma.Schema{Type: "string"}, ""),
			"stream":         boolean("Stream the answer as server-sent events (message_start, content_block_start/delta/stop, message_delta, message_stop, ping)."),
			"temperature":    num(""),
			"top_p":          num(""),
			"top_k":          integer("Dropped on translated routes."),
			"tools":          arr(ref("AnthropicTool"), ""),
			"tool_choice":    obj("{type: auto|any|tool|none, name, disable_parallel_tool_use}.", nil),
			"thinking":       obj("{type: enabled, budget_tokens}: reasoning_effort on translated routes.", nil),
			"metadata":       obj("{user_id}.", nil),
		}, "model", "max_tokens", "messages"),
		"AnthropicUsage": obj("Token usage.", map[string]*huma.Schema{
			"input_tokens":            integer(""),
			"output_tokens":           integer(""),
			"cache_read_input_tokens": integer(""),
		}, "input_tokens", "output_tokens"),
		"MessagesResponse": obj("A message.", map[string]*huma.Schema{
			"id":            str(""),
			"type":          {Type: "string", Enum: []any{"message"}},
			"role":          {Type: "string", Enum: []any{"assistant"}},
			"model":         str("The model name of the request."),
			"content":       arr(ref("AnthropicContentBlock"), ""),
			"stop_reason":   {Type: "string", Enum: []any{"end_turn", "max_tokens", "stop_sequence", "tool_use", "refusal"}},
			"stop_sequence": {Type: "string", Nullable: true},
			"usage":         ref("AnthropicUsage"),
		}, "id", "type", "role", "model", "content", "stop_reason", "usage"),
		"MessagesStreamEvent": obj("The data of one server-sent event; its type is also the event name: message_start, content_block_start, content_block_delta, content_block_stop, message_delta, message_stop, ping, or error.", map[string]*huma.Schema{
			"type": str(""),
		}, "type"),
		"CountTokensResponse": obj("The estimated input tokens.", map[string]*huma.Schema{
			"input_tokens": integer(""),
		}, "input_tokens"),
		"AnthropicError": obj("Anthropic's error envelope.", map[string]*huma.Schema{
			"type": {Type: "string", Enum: []any{"error"}},
			"error": obj("", map[string]*huma.Schema{
				"type":    str("invalid_request_error, authentication_error, permission_error, not_found_error, request_too_large, rate_limit_error, api_error, overloaded_error, timeout_error"),
				"message": str(""),
			}, "type", "message"),
		}, "type", "error"),
	}
}

func anthropicErrorResponses(codes ...int) map[string]*huma.Response {
	out := map[string]*huma.Response{}
	for _, c := range codes {
		out[strconv.Itoa(c)] = &huma.Response{Description: http.StatusText(c), Content: map[string]*huma.MediaType{
			"application/json": {Schema: ref("AnthropicError")},
		}}
	}
	return out
}

func anthropicParams() []*huma.Param {
	return []*huma.Param{
		{Name: "x-api-key", In: "header", Description: "The client key (or Authorization: Bearer).", Schema: &huma.Schema{Type: "string"}},
		{Name: "anthropic-version", In: "header", Description: "Accepted with any value.", Schema: &huma.Schema{Type: "string"}},
		{Name: "X-Provider", In: "header", Description: "Provider to use (strategy specified_provider; others try it first).", Schema: &huma.Schema{Type: "string"}},
	}
}

// documentMessages adds the Anthropic operations to the OpenAPI document.
func documentMessages(api huma.API) {
	oa := api.OpenAPI()
	for name, s := range anthropicSchemas() {
		oa.Components.Schemas.Map()[name] = s
	}
	security := []map[string][]string{{"clientKey": {}}}
	example := map[string]any{
		"model": "demo", "max_tokens": 256, "messages": []any{map[string]any{"role": "user", "content": "Say hello"}},
	}
	msg := &huma.Operation{
		OperationID: "createMessage",
		Method:      http.MethodPost,
		Path:        "/v1/messages",
		Summary:     "Create a message (Anthropic Messages API)",
		Description: "Anthropic's Messages API, JSON or (with stream: true) Anthropic's server-sent events, for every provider: the request is translated to the router's chat request and goes through the same pipeline as chat completions (limits, strategy, failover before the first byte, request log). Authenticate with x-api-key or Authorization: Bearer; anthropic-version is accepted. Errors use Anthropic's envelope; after the first byte of a stream a failure is an error event.",
		Tags:        []string{"Anthropic"},
		Security:    security,
		Parameters:  anthropicParams(),
		RequestBody: &huma.RequestBody{Required: true, Content: map[string]*huma.MediaType{
			"application/json": {Schema: ref("MessagesRequest"), Example: example},
		}},
		Responses: anthropicErrorResponses(400, 401, 404, 408, 413, 429, 502, 503, 504),
	}
	msg.Responses["200"] = &huma.Response{
		Description: "The message, or a stream of events when stream is true.",
		Headers: map[string]*huma.Param{
			"X-Request-Id":        {Schema: &huma.Schema{Type: "string"}},
			"X-Airouter-Provider": {Schema: &huma.Schema{Type: "string"}},
			"X-Airouter-Attempts": {Schema: &huma.Schema{Type: "integer"}},
		},
		Content: map[string]*huma.MediaType{
			"application/json":  {Schema: ref("MessagesResponse")},
			"text/event-stream": {Schema: ref("MessagesStreamEvent")},
		},
	}
	oa.AddOperation(msg)

	count := &huma.Operation{
		OperationID: "countMessageTokens",
		Method:      http.MethodPost,
		Path:        "/v1/messages/count_tokens",
		Summary:     "Count the input tokens of a message (estimate)",
		Description: "Takes a Messages request (max_tokens optional) and answers {\"input_tokens\":N}. The number is the router's estimate (about four ASCII characters or one other character per token, fixed amounts per image, message and tool), not the upstream's tokenizer; such answers carry the header X-Airouter-Token-Estimate: true.",
		Tags:        []string{"Anthropic"},
		Security:    security,
		Parameters:  anthropicParams()[:2],
		RequestBody: &huma.RequestBody{Required: true, Content: map[string]*huma.MediaType{
			"application/json": {Schema: ref("MessagesRequest"), Example: example},
		}},
		Responses: anthropicErrorResponses(400, 401, 404, 408, 413),
	}
	count.Responses["200"] = &huma.Response{
		Description: "The estimate.",
		Headers: map[string]*huma.Param{
			"X-Airouter-Token-Estimate": {Description: "true: the count is an estimate.", Schema: &huma.Schema{Type: "string"}},
		},
		Content: map[string]*huma.MediaType{"application/json": {Schema: ref("CountTokensResponse")}},
	}
	oa.AddOperation(count)
}
