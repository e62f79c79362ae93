package mock_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"image"
	"image/png"
	"net/http"
	"strings"
	"testing"

	"github.com/openai/openai-go/v3"

	"github.com/airouter/airouter/cmd/mockllm/mock"
)

const pathImages = "/v1/images/generations"

func decodePNG(t *testing.T, b []byte) image.Image {
	t.Helper()
	img, err := png.Decode(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("not a PNG: %v", err)
	}
	return img
}

func TestImagesSDK(t *testing.T) {
	t.Parallel()
	srv := start(t, mock.Config{})
	c := sdk(t, srv)
	ctx := context.Background()

	res, err := c.Images.Generate(ctx, openai.ImageGenerateParams{
		Prompt: "a red fox", Model: "gpt-image-1", N: openai.Int(2),
		Size: openai.ImageGenerateParamsSize1536x1024, ResponseFormat: openai.ImageGenerateParamsResponseFormatB64JSON,
	})
	if err != nil {
		t.Fatal(err)
	}
	checkSDK(t, res)
	if len(res.Data) != 2 || res.Created == 0 || res.Size != "1536x1024" || res.OutputFormat != "png" {
		t.Fatalf("response: %.300s", res.RawJSON())
	}
	u := res.Usage
	if u.InputTokens <= 0 || u.OutputTokens != 2*1584 || u.TotalTokens != u.InputTokens+u.OutputTokens || u.InputTokensDetails.TextTokens != u.InputTokens {
		t.Errorf("usage: %+v", u)
	}
	var colours []any
	for i, d := range res.Data {
		if d.URL != "" {
			t.Errorf("image %d has a url in b64_json mode", i)
		}
		b, err := base64.StdEncoding.DecodeString(d.B64JSON)
		if err != nil {
			t.Fatalf("image %d: %v", i, err)
		}
		img := decodePNG(t, b)
		if img.Bounds() != image.Rect(0, 0, 1536, 1024) {
			t.Errorf("image %d is %v", i, img.Bounds())
		}
		if img.At(0, 0) != img.At(1535, 1023) {
			t.Errorf("image %d is not one colour", i)
		}
		colours = append(colours, img.At(0, 0))
	}
	if colours[0] == colours[1] {
		t.Error("the two images are the same")
	}

	// A url answer points at the mock, which serves the same image.
	res, err = c.Images.Generate(ctx, openai.ImageGenerateParams{
		Prompt: "a red fox", ResponseFormat: openai.ImageGenerateParamsResponseFormatURL,
	})
	if err != nil {
		t.Fatal(err)
	}
	checkSDK(t, res)
	if len(res.Data) != 1 || res.Data[0].B64JSON != "" || !strings.HasPrefix(res.Data[0].URL, srv.URL+"/") {
		t.Fatalf("url answer: %s", res.RawJSON())
	}
	resp, err := client(t).Get(res.Data[0].URL)
	if err != nil {
		t.Fatal(err)
	}
	b, err := readBody(resp)
	if err != nil || resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "image/png" {
		t.Fatalf("GET %s: %v %d", res.Data[0].URL, err, resp.StatusCode)
	}
	img := decodePNG(t, b)
	if img.Bounds() != image.Rect(0, 0, 1024, 1024) || img.At(7, 7) != colours[0] {
		t.Errorf("served image %v, colour %v, want 1024x1024 of %v", img.Bounds(), img.At(7, 7), colours[0])
	}
}

func TestImagesBadRequests(t *testing.T) {
	t.Parallel()
	srv := start(t, mock.Config{})
	for name, body := range map[string]string{
		"no prompt":       `{"model":"gpt-image-1"}`,
		"empty prompt":    `{"prompt":""}`,
		"prompt number":   `{"prompt":7}`,
		"long prompt":     `{"prompt":"` + strings.Repeat("x", mock.MaxImagePrompt+1) + `"}`,
		"n 0":             `{"prompt":"x","n":0}`,
		"n 11":            `{"prompt":"x","n":11}`,
		"size word":       `{"prompt":"x","size":"big"}`,
		"size too large":  `{"prompt":"x","size":"5000x10"}`,
		"size zero":       `{"prompt":"x","size":"0x10"}`,
		"response format": `{"prompt":"x","response_format":"gif"}`,
		"not an object":   `["x"]`,
	} {
		resp, b := post(t, srv, pathImages, body)
		var oe oaError
		strictDecode(t, string(b), &oe)
		if resp.StatusCode != 400 || oe.Error.Type != "invalid_request_error" {
			t.Errorf("%s: %d %s", name, resp.StatusCode, b)
		}
	}
	for _, path := range []string{"/mock/images/10x10/zzzzzz.png", "/mock/images/10/ffffff.png", "/mock/images/10x10/ffffff.jpg"} {
		resp, err := client(t).Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		if _, _ = readBody(resp); resp.StatusCode != http.StatusNotFound {
			t.Errorf("GET %s: %d", path, resp.StatusCode)
		}
	}
}

func TestImagesFailures(t *testing.T) {
	t.Parallel()
	srv := start(t, mock.Config{RequireKey: "sk-test"})
	resp, b := post(t, srv, pathImages, `{"prompt":"x"}`)
	if resp.StatusCode != 401 || !strings.Contains(string(b), `"invalid_api_key"`) {
		t.Errorf("no key: %d %s", resp.StatusCode, b)
	}
	resp, b = post(t, srv, pathImages, `{"prompt":"x"}`, "Authorization: Bearer sk-test",
		"X-Mock-Error-Rate: 1", "X-Mock-Error-Status: 403", "X-Mock-Error-Code: content_policy_violation")
	var oe oaError
	strictDecode(t, string(b), &oe)
	if resp.StatusCode != 403 || oe.Error.Code == nil || *oe.Error.Code != mock.ErrorCodeContentPolicy {
		t.Errorf("content policy: %d %s", resp.StatusCode, b)
	}
	resp, err := do(t, srv, pathImages, `{"prompt":"x","n":10}`, "Authorization: Bearer sk-test", "X-Mock-Stall: mid-stream:30ms")
	if err != nil {
		t.Fatal(err)
	}
	if b, err := readBody(resp); err != nil || resp.StatusCode != 200 || !strings.HasSuffix(string(b), "}}") {
		t.Errorf("stalled body: %v %d", err, resp.StatusCode)
	}
}
