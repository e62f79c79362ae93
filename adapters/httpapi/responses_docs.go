package httpapi

import (
	"net/http"

	"github.com/danielgtaylor/huma/v2"
)

// The schemas below document the OpenAI Responses API as the router serves
// it (translated to chat for every provider kind; see the README). They
// follow OpenAI's Responses reference; unknown request fields are accepted.

func responsesSchemas() map[string]*huma.Schema {
	item := obj("An input or output item: a message, a function_call or a function_call_output (reasoning items are accepted and dropped).", map[string]*huma.Schema{
		"type":      {Type: "string", Enum: []any{"message", "function_call", "function_call_output", "reasoning"}},
		"id":        str("Id of an output item (msg_…, fc_…)."),
		"role":      {Type: "string", Enum: []any{"user", "assistant", "system", "developer"}},
		"content":   {Description: "A string or a list of parts (input_text, input_image, output_text, refusal).", OneOf: []*huma.Schema{{Type: "string"}, arr(obj("", map[string]*huma.Schema{"type": str(""), "text": str("")}, "type"), "")}},
		"call_id":   str("The function call this item is or answers."),
		"name":      str("Function name, for function_call."),
		"arguments": str("Arguments as a JSON string, for function_call."),
		"output":    {Description: "The function's result, for function_call_output.", OneOf: []*huma.Schema{{Type: "string"}, arr(obj("", nil), "")}},
		"status":    str("in_progress, completed or incomplete (output items)."),
	})
	return map[string]*huma.Schema{
		"ResponseItem": item,
		"ResponseTool": obj("A function tool (flat form). Built-in tools (web_search, file_search, …) are refused with 400.", map[string]*huma.Schema{
			"type":        {Type: "string", Enum: []any{"function"}},
			"name":        str("Function name."),
			"description": str(""),
			"parameters":  obj("JSON Schema of the arguments.", nil),
			"strict":      boolean(""),
		}, "type", "name"),
		"CreateResponseRequest": obj("A Responses API create request.", map[string]*huma.Schema{
			"model":                {Type: "string", Description: "A model name from GET /v1/models.", Examples: []any{"demo"}},
			"input":                {Description: "A string (one user message) or a list of items.", OneOf: []*huma.Schema{{Type: "string"}, arr(ref("ResponseItem"), "")}},
			"instructions":         str("A system message for this request (not carried to the next one)."),
			"previous_response_id": str("Continue from a stored response of the same client key: its input and output come before this input."),
			"store":                boolean("Store the response for GET /v1/responses/{id} and previous_response_id (default true; kept RESPONSES_RETENTION days)."),
			"stream":               boolean("Stream server-sent events (response.created, response.output_text.delta, response.function_call_arguments.delta, response.completed, …)."),
			"tools":                arr(ref("ResponseTool"), ""),
			"tool_choice":          {Description: `"none", "auto", "required" or {"type":"function","name":...}`},
			"parallel_tool_calls":  boolean(""),
			"temperature":          num(""),
			"top_p":                num(""),
			"max_output_tokens":    integer(""),
			"text":                 obj("Output format: {\"format\":{\"type\":\"text\"|\"json_object\"|\"json_schema\",…}}.", nil),
			"reasoning":            obj("Reasoning effort, passed on where the upstream supports it.", nil),
			"metadata":             obj("Up to 16 string pairs, echoed back.", nil),
			"user":                 str(""),
		}, "model"),
		"Response": obj("A response.", map[string]*huma.Schema{
			"id":                   str("resp_…"),
			"object":               {Type: "string", Enum: []any{"response"}},
			"created_at":           integer("Unix seconds."),
			"status":               {Type: "string", Enum: []any{"completed", "incomplete", "failed", "in_progress"}},
			"model":                str("The model name the client asked for."),
			"output":               arr(ref("ResponseItem"), ""),
			"previous_response_id": {Type: "string", Nullable: true},
			"store":                boolean(""),
			"error":                obj("Set when status is failed.", map[string]*huma.Schema{"code": str(""), "message": str("")}),
			"usage": obj("Token usage.", map[string]*huma.Schema{
				"input_tokens": integer(""), "output_tokens": integer(""), "total_tokens": integer(""),
			}),
		}, "id", "object", "created_at", "status", "model", "output"),
		"ResponseStreamEvent": obj("One server-sent event of a streamed response (event: <type>, data: this object); there is no data: [DONE].", map[string]*huma.Schema{
			"type":            str("response.created, response.in_progress, response.output_item.added, response.content_part.added, response.output_text.delta, response.output_text.done, response.function_call_arguments.delta, response.function_call_arguments.done, response.output_item.done, response.completed, response.incomplete, response.failed, error"),
			"sequence_number": integer(""),
			"response":        ref("Response"),
			"delta":           str(""),
		}, "type"),
		"ResponseDeleted": obj("A deleted response.", map[string]*huma.Schema{
			"id":      str(""),
			"object":  {Type: "string", Enum: []any{"response.deleted"}},
			"deleted": boolean(""),
		}, "id", "object", "deleted"),
	}
}

// documentResponses adds the /v1/responses operations to the OpenAPI document.
func documentResponses(api huma.API) {
	oa := api.OpenAPI()
	for name, s := range responsesSchemas() {
		oa.Components.Schemas.Map()[name] = s
	}
	security := []map[string][]string{{"clientKey": {}}}
	idParam := []*huma.Param{{Name: "id", In: "path", Required: true, Description: "resp_…", Schema: &huma.Schema{Type: "string"}}}
	create := &huma.Operation{
		OperationID: "createResponse", Method: http.MethodPost, Path: "/v1/responses",
		Summary: "Create a response",
		Description: "OpenAI's Responses API, JSON or (stream: true) server-sent events, served on every provider kind by translation to chat completions " +
			"through the same pipeline as /v1/chat/completions (client-key limits, the model's strategy, failover before the first byte, statistics, the request log). " +
			"With store (the default) the response is stored before it is answered, for GET and previous_response_id.",
		Tags: []string{"OpenAI"}, Security: security,
		Parameters: []*huma.Param{
			{Name: "X-Provider", In: "header", Description: "Provider to use (strategy specified_provider; others try it first).", Schema: &huma.Schema{Type: "string"}},
		},
		RequestBody: &huma.RequestBody{Required: true, Content: map[string]*huma.MediaType{
			"application/json": {Schema: ref("CreateResponseRequest"), Example: map[string]any{"model": "demo", "input": "Say hello"}},
		}},
		Responses: openAIErrorResponses(400, 401, 404, 408, 413, 429, 500, 502, 503, 504),
	}
	create.Responses["200"] = &huma.Response{Description: "The response, or its event stream when stream is true.",
		Content: map[string]*huma.MediaType{
			"application/json":  {Schema: ref("Response")},
			"text/event-stream": {Schema: ref("ResponseStreamEvent")},
		}}
	oa.AddOperation(create)

	get := &huma.Operation{
		OperationID: "getResponse", Method: http.MethodGet, Path: "/v1/responses/{id}", Summary: "Retrieve a stored response",
		Description: "A response stored by the same client key; another key's response is 404.",
		Tags:        []string{"OpenAI"}, Security: security, Parameters: idParam,
		Responses: openAIErrorResponses(401, 404),
	}
	get.Responses["200"] = &huma.Response{Description: "OK", Content: map[string]*huma.MediaType{"application/json": {Schema: ref("Response")}}}
	oa.AddOperation(get)

	del := &huma.Operation{
		OperationID: "deleteResponse", Method: http.MethodDelete, Path: "/v1/responses/{id}", Summary: "Delete a stored response",
		Description: "Deletes a response stored by the same client key; another key's response is 404.",
		Tags:        []string{"OpenAI"}, Security: security, Parameters: idParam,
		Responses: openAIErrorResponses(401, 404),
	}
	del.Responses["200"] = &huma.Response{Description: "OK", Content: map[string]*huma.MediaType{"application/json": {Schema: ref("ResponseDeleted")}}}
	oa.AddOperation(del)
}
