package httpapi

import (
	"net/http"

	"github.com/danielgtaylor/huma/v2"
)

// The schemas of POST /v1/embeddings and /v1/images/generations follow
// OpenAI's reference; the body passes through to the upstream, so unknown
// fields are accepted.

func passthroughSchemas() map[string]*huma.Schema {
	return map[string]*huma.Schema{
		"EmbeddingsRequest": obj("An embeddings request, as OpenAI's Embeddings API defines it.", map[string]*huma.Schema{
			"model": {Type: "string", Description: "A model from GET /v1/models that serves embeddings.", Examples: []any{"embed"}},
			"input": {Description: "A string, an array of strings (at most 2,048), an array of tokens or an array of token arrays.",
				OneOf: []*huma.Schema{{Type: "string"}, arr(&huma.Schema{Type: "string"}, ""), arr(&huma.Schema{Type: "integer"}, ""), arr(arr(&huma.Schema{Type: "integer"}, ""), "")}},
			"encoding_format": {Type: "string", Enum: []any{"float", "base64"}},
			"dimensions":      integer("Output dimensions, where the upstream model supports it."),
			"user":            str(""),
			"provider":        str("AI Router extension: the provider to use (same as the X-Provider header)."),
		}, "model", "input"),
		"EmbeddingList": obj("Embeddings, as the upstream answered.", map[string]*huma.Schema{
			"object": {Type: "string", Enum: []any{"list"}},
			"data": arr(obj("", map[string]*huma.Schema{
				"object":    {Type: "string", Enum: []any{"embedding"}},
				"index":     integer(""),
				"embedding": {Description: "Floats, or a base64 string of little-endian float32 with encoding_format base64.", OneOf: []*huma.Schema{arr(&huma.Schema{Type: "number"}, ""), {Type: "string"}}},
			}, "object", "index", "embedding"), ""),
			"model": str("The upstream model."),
			"usage": obj("", map[string]*huma.Schema{"prompt_tokens": integer(""), "total_tokens": integer("")}),
		}, "object", "data", "model"),
		"ImagesRequest": obj("An image generation request, as OpenAI's Images API defines it.", map[string]*huma.Schema{
			"model":           {Type: "string", Description: "A model from GET /v1/models that serves images (required here).", Examples: []any{"image"}},
			"prompt":          str("What to draw."),
			"n":               {Type: "integer", Minimum: floatPtr(1), Maximum: floatPtr(10)},
			"size":            str("e.g. 1024x1024, as the upstream model allows."),
			"quality":         str(""),
			"response_format": {Type: "string", Enum: []any{"url", "b64_json"}},
			"user":            str(""),
			"provider":        str("AI Router extension: the provider to use."),
		}, "model", "prompt"),
		"ImagesResponse": obj("Generated images, as the upstream answered.", map[string]*huma.Schema{
			"created": integer("Unix seconds."),
			"data":    arr(obj("", map[string]*huma.Schema{"url": str(""), "b64_json": str(""), "revised_prompt": str("")}), ""),
			"usage":   obj("Token usage, where the upstream reports it.", nil),
		}, "data"),
	}
}

func floatPtr(f float64) *float64 { return &f }

func documentPassthrough(api huma.API) {
	oa := api.OpenAPI()
	for name, s := range passthroughSchemas() {
		oa.Components.Schemas.Map()[name] = s
	}
	for _, op := range []struct{ id, path, summary, desc, req, resp string }{
		{"createEmbedding", "/v1/embeddings", "Create embeddings",
			"OpenAI-compatible embeddings, served by OpenAI, Ark and OpenAI-compatible routes of a model that declares the embeddings capability, with failover. The body reaches the upstream unchanged but for model.",
			"EmbeddingsRequest", "EmbeddingList"},
		{"createImage", "/v1/images/generations", "Generate images",
			"OpenAI-compatible image generation, served by OpenAI, Ark and OpenAI-compatible routes of a model that declares the images capability, with failover. The body reaches the upstream unchanged but for model.",
			"ImagesRequest", "ImagesResponse"},
	} {
		o := &huma.Operation{
			OperationID: op.id, Method: http.MethodPost, Path: op.path, Summary: op.summary, Description: op.desc,
			Tags: []string{"OpenAI"}, Security: []map[string][]string{{"clientKey": {}}},
			Parameters: []*huma.Param{
				{Name: "X-Provider", In: "header", Description: "Provider to use (strategy specified_provider; others try it first).", Schema: &huma.Schema{Type: "string"}},
			},
			RequestBody: &huma.RequestBody{Required: true, Content: map[string]*huma.MediaType{"application/json": {Schema: ref(op.req)}}},
			Responses:   openAIErrorResponses(400, 401, 404, 408, 413, 429, 502, 503, 504),
		}
		o.Responses["200"] = &huma.Response{Description: "The upstream's answer.", Content: map[string]*huma.MediaType{"application/json": {Schema: ref(op.resp)}}}
		oa.AddOperation(o)
	}
}
