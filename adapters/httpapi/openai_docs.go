package httpapi

import (
	"net/http"
	"strconv"

	"github.com/danielgtaylor/huma/v2"
)

// The schemas below document the OpenAI-compatible API. They follow OpenAI's
// Chat Completions reference; unknown request fields are accepted and passed
// on to OpenAI-compatible upstreams (additionalProperties: true).

func ref(name string) *huma.Schema { return &huma.Schema{Ref: "#/components/schemas/" + name} }

func str(desc string) *huma.Schema { return &huma.Schema{Type: "string", Description: desc} }

func num(desc string) *huma.Schema { return &huma.Schema{Type: "number", Description: desc} }

func integer(desc string) *huma.Schema { return &huma.Schema{Type: "integer", Description: desc} }

func boolean(desc string) *huma.Schema { return &huma.Schema{Type: "boolean", Description: desc} }

func obj(desc string, props map[string]*huma.Schema, required ...string) *huma.Schema {
	return &huma.Schema{Type: "object", Description: desc, Properties: props, Required: required, AdditionalProperties: true}
}

func arr(items *huma.Schema, desc string) *huma.Schema {
	return &huma.Schema{Type: "array", Items: items, Description: desc}
}

func openAISchemas() map[string]*huma.Schema {
	return map[string]*huma.Schema{
		"ChatMessage": obj("A chat message.", map[string]*huma.Schema{
			"role": {Type: "string", Enum: []any{"system", "developer", "user", "assistant", "tool"}},
			"content": {Description: "A string, an array of content parts, or null (assistant messages with tool calls).",
				OneOf: []*huma.Schema{{Type: "string"}, arr(ref("ContentPart"), ""), {Type: "null"}}},
			"name":         str("An optional name of the participant."),
			"tool_calls":   arr(ref("ToolCall"), "Tool calls made by the assistant."),
			"tool_call_id": str("The tool call this tool message answers."),
		}, "role"),
		"ContentPart": obj("A part of a message's content.", map[string]*huma.Schema{
			"type": {Type: "string", Enum: []any{"text", "image_url", "input_audio", "file"}},
			"text": str("Text, for type text."),
			"image_url": obj("An image, for type image_url.", map[string]*huma.Schema{
				"url":    str("An http(s) URL or a data: URL with base64 image data."),
				"detail": {Type: "string", Enum: []any{"auto", "low", "high"}},
			}, "url"),
		}, "type"),
		"ToolCall": obj("A call of a function tool.", map[string]*huma.Schema{
			"index": integer("Position of the call, in stream deltas."),
			"id":    str("Id of the call."),
			"type":  {Type: "string", Enum: []any{"function"}},
			"function": obj("", map[string]*huma.Schema{
				"name":      str("Function name."),
				"arguments": str("Arguments as a JSON string."),
			}),
		}),
		"Tool": obj("A tool the model may call.", map[string]*huma.Schema{
			"type": {Type: "string", Enum: []any{"function"}},
			"function": obj("", map[string]*huma.Schema{
				"name":        str("Function name."),
				"description": str("What the function does."),
				"parameters":  obj("JSON Schema of the arguments.", nil),
				"strict":      boolean("Enforce the schema exactly."),
			}, "name"),
		}, "type", "function"),
		"ChatCompletionRequest": obj("A chat completion request, as OpenAI's Chat Completions API defines it. Unknown fields are passed on to OpenAI-compatible upstreams unchanged.", map[string]*huma.Schema{
			"model":    {Type: "string", Description: "A model name from GET /v1/models.", Examples: []any{"gpt-4o-mini"}},
			"messages": {Type: "array", Items: ref("ChatMessage"), MinItems: intPtr(1)},
			"stream":   boolean("Stream the answer as server-sent events."),
			"stream_options": obj("", map[string]*huma.Schema{
				"include_usage": boolean("Send a last chunk with usage."),
			}),
			"tools": arr(ref("Tool"), ""),
			"tool_choice": {Description: `"none", "auto", "required" or {"type":"function","function":{"name":...}}`,
				OneOf: []*huma.Schema{{Type: "string", Enum: []any{"none", "auto", "required"}}, obj("", map[string]*huma.Schema{
					"type":     {Type: "string", Enum: []any{"function"}},
					"function": obj("", map[string]*huma.Schema{"name": str("")}, "name"),
				}, "type", "function")}},
			"response_format":       obj("text, json_object or json_schema.", nil),
			"temperature":           num(""),
			"top_p":                 num(""),
			"max_tokens":            integer("Maximum completion tokens (deprecated by OpenAI, still accepted)."),
			"max_completion_tokens": integer("Maximum completion tokens."),
			"stop":                  {Description: "A stop sequence or a list of them.", OneOf: []*huma.Schema{{Type: "string"}, arr(&huma.Schema{Type: "string"}, "")}},
			"n":                     integer(""),
			"seed":                  integer(""),
			"presence_penalty":      num(""),
			"frequency_penalty":     num(""),
			"logprobs":              boolean(""),
			"top_logprobs":          integer(""),
			"user":                  str(""),
			"provider":              str("AI Router extension: the provider to use (same as the X-Provider header)."),
		}, "model", "messages"),
		"Usage": obj("Token usage.", map[string]*huma.Schema{
			"prompt_tokens":     integer(""),
			"completion_tokens": integer(""),
			"total_tokens":      integer(""),
		}, "prompt_tokens", "completion_tokens", "total_tokens"),
		"ChatCompletion": obj("A chat completion.", map[string]*huma.Schema{
			"id":      str(""),
			"object":  {Type: "string", Enum: []any{"chat.completion"}},
			"created": integer("Unix seconds."),
			"model":   str("The upstream model that answered."),
			"choices": arr(obj("", map[string]*huma.Schema{
				"index":         integer(""),
				"message":       ref("ChatMessage"),
				"finish_reason": {Type: "string", Description: "stop, length, tool_calls, content_filter"},
			}, "index", "message"), ""),
			"usage": ref("Usage"),
		}, "id", "object", "created", "model", "choices"),
		"ChatCompletionChunk": obj("One chunk of a streamed chat completion (the data of one server-sent event; the stream ends with data: [DONE]).", map[string]*huma.Schema{
			"id":      str(""),
			"object":  {Type: "string", Enum: []any{"chat.completion.chunk"}},
			"created": integer(""),
			"model":   str(""),
			"choices": arr(obj("", map[string]*huma.Schema{
				"index": integer(""),
				"delta": obj("", map[string]*huma.Schema{
					"role":       str(""),
					"content":    str(""),
					"tool_calls": arr(ref("ToolCall"), ""),
				}),
				"finish_reason": str(""),
			}), ""),
			"usage": ref("Usage"),
		}, "id", "object", "created", "model", "choices"),
		"Model": obj("A model.", map[string]*huma.Schema{
			"id":       str("The name to use in requests."),
			"object":   {Type: "string", Enum: []any{"model"}},
			"created":  integer(""),
			"owned_by": str(""),
			"capabilities": arr(&huma.Schema{Type: "string", Enum: []any{"chat", "embeddings", "images"}},
				"Not in OpenAI's object: what the model serves through its usable routes (chat: chat completions, Messages, Responses)."),
		}, "id", "object", "created", "owned_by", "capabilities"),
		"ModelList": obj("Models with at least one healthy route.", map[string]*huma.Schema{
			"object": {Type: "string", Enum: []any{"list"}},
			"data":   arr(ref("Model"), ""),
		}, "object", "data"),
		"OpenAIError": obj("OpenAI's error envelope.", map[string]*huma.Schema{
			"error": obj("", map[string]*huma.Schema{
				"message": str(""),
				"type":    str("invalid_request_error, rate_limit_error, api_error"),
				"param":   {Type: "string", Nullable: true},
				"code":    {Type: "string", Nullable: true},
			}, "message", "type"),
		}, "error"),
	}
}

func intPtr(i int) *int { return &i }

func openAIErrorResponses(codes ...int) map[string]*huma.Response {
	out := map[string]*huma.Response{}
	for _, c := range codes {
		out[strconv.Itoa(c)] = &huma.Response{Description: http.StatusText(c), Content: map[string]*huma.MediaType{
			"application/json": {Schema: ref("OpenAIError")},
		}}
	}
	return out
}

// documentOpenAI adds the /v1 operations to the OpenAPI document.
func documentOpenAI(api huma.API) {
	oa := api.OpenAPI()
	for name, s := range openAISchemas() {
		oa.Components.Schemas.Map()[name] = s
	}
	security := []map[string][]string{{"clientKey": {}}}
	chat := &huma.Operation{
		OperationID: "createChatCompletion",
		Method:      http.MethodPost,
		Path:        "/v1/chat/completions",
		Summary:     "Create a chat completion",
		Description: "OpenAI-compatible chat completions, JSON or (with stream: true) server-sent events. The router picks a provider by the model's strategy and fails over before the first byte. X-Provider selects a provider for specified_provider. Responses carry X-Request-Id, X-Airouter-Provider and X-Airouter-Attempts.",
		Tags:        []string{"OpenAI"},
		Security:    security,
		Parameters: []*huma.Param{
			{Name: "X-Provider", In: "header", Description: "Provider to use (strategy specified_provider; others try it first).", Schema: &huma.Schema{Type: "string"}},
		},
		RequestBody: &huma.RequestBody{Required: true, Content: map[string]*huma.MediaType{
			"application/json": {Schema: ref("ChatCompletionRequest"), Example: map[string]any{
				"model": "demo", "messages": []any{map[string]any{"role": "user", "content": "Say hello"}},
			}},
		}},
		Responses: openAIErrorResponses(400, 401, 404, 408, 413, 429, 502, 503, 504),
	}
	chat.Responses["200"] = &huma.Response{
		Description: "The completion, or a stream of chunks when stream is true.",
		Headers: map[string]*huma.Param{
			"X-Request-Id":        {Schema: &huma.Schema{Type: "string"}},
			"X-Airouter-Provider": {Schema: &huma.Schema{Type: "string"}},
			"X-Airouter-Attempts": {Schema: &huma.Schema{Type: "integer"}},
		},
		Content: map[string]*huma.MediaType{
			"application/json":  {Schema: ref("ChatCompletion")},
			"text/event-stream": {Schema: ref("ChatCompletionChunk")},
		},
	}
	oa.AddOperation(chat)

	list := &huma.Operation{
		OperationID: "listModels", Method: http.MethodGet, Path: "/v1/models", Summary: "List models",
		Description: "Enabled models with at least one healthy route.", Tags: []string{"OpenAI"}, Security: security,
		Responses: openAIErrorResponses(401, 503),
	}
	list.Responses["200"] = &huma.Response{Description: "OK", Content: map[string]*huma.MediaType{"application/json": {Schema: ref("ModelList")}}}
	oa.AddOperation(list)

	get := &huma.Operation{
		OperationID: "retrieveModel", Method: http.MethodGet, Path: "/v1/models/{model}", Summary: "Retrieve a model",
		Tags: []string{"OpenAI"}, Security: security,
		Parameters: []*huma.Param{{Name: "model", In: "path", Required: true, Schema: &huma.Schema{Type: "string"}}},
		Responses:  openAIErrorResponses(401, 404, 503),
	}
	get.Responses["200"] = &huma.Response{Description: "OK", Content: map[string]*huma.MediaType{"application/json": {Schema: ref("Model")}}}
	oa.AddOperation(get)
}
