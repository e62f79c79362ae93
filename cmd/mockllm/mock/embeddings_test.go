package mock_test

import (
	"context"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"math"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/openai/openai-go/v3"

	"github.com/airouter/airouter/cmd/mockllm/mock"
)

const pathEmbeddings = "/v1/embeddings"

func norm(v []float64) float64 {
	var s float64
	for _, x := range v {
		s += x * x
	}
	return math.Sqrt(s)
}

func embed(t *testing.T, c openai.Client, in openai.EmbeddingNewParamsInputUnion, dims int64) *openai.CreateEmbeddingResponse {
	t.Helper()
	p := openai.EmbeddingNewParams{Input: in, Model: openai.EmbeddingModelTextEmbedding3Small}
	if dims > 0 {
		p.Dimensions = openai.Int(dims)
	}
	res, err := c.Embeddings.New(context.Background(), p)
	if err != nil {
		t.Fatalf("embeddings: %v", err)
	}
	checkSDK(t, res)
	if res.Object != "list" || res.Model != "text-embedding-3-small" || res.Usage.TotalTokens != res.Usage.PromptTokens || res.Usage.PromptTokens <= 0 {
		t.Errorf("envelope: %s", res.RawJSON())
	}
	for i, e := range res.Data {
		if e.Object != "embedding" || e.Index != int64(i) {
			t.Errorf("embedding %d: object %q index %d", i, e.Object, e.Index)
		}
		if n := norm(e.Embedding); math.Abs(n-1) > 1e-6 {
			t.Errorf("embedding %d has norm %v, want 1", i, n)
		}
	}
	return res
}

func TestEmbeddingsSDK(t *testing.T) {
	t.Parallel()
	c := sdk(t, start(t, mock.Config{}))

	one := embed(t, c, openai.EmbeddingNewParamsInputUnion{OfString: openai.String("hello")}, 0)
	if len(one.Data) != 1 || len(one.Data[0].Embedding) != mock.DefaultDimensions {
		t.Fatalf("string input: %d embeddings of %d", len(one.Data), len(one.Data[0].Embedding))
	}
	if one.Usage.PromptTokens != 2 {
		t.Errorf("prompt tokens %d for 5 bytes", one.Usage.PromptTokens)
	}

	two := embed(t, c, openai.EmbeddingNewParamsInputUnion{OfArrayOfStrings: []string{"hello", "world"}}, 0)
	if len(two.Data) != 2 {
		t.Fatalf("%d embeddings for 2 inputs", len(two.Data))
	}
	if !slices.Equal(two.Data[0].Embedding, one.Data[0].Embedding) {
		t.Error("the same input in an array got another vector")
	}
	if slices.Equal(two.Data[0].Embedding, two.Data[1].Embedding) {
		t.Error("different inputs got the same vector")
	}

	// A shorter vector is the longer one's prefix, renormalised.
	short := embed(t, c, openai.EmbeddingNewParamsInputUnion{OfString: openai.String("hello")}, 8)
	v := short.Data[0].Embedding
	if len(v) != 8 {
		t.Fatalf("dimensions 8: got %d", len(v))
	}
	long := one.Data[0].Embedding[:8]
	ln := norm(long)
	tol := 1e-9/ln + 1e-9 // both are rounded to 9 decimals
	for i := range v {
		if math.Abs(v[i]-long[i]/ln) > tol {
			t.Errorf("component %d: %v, want %v", i, v[i], long[i]/ln)
		}
	}

	if v := embed(t, c, openai.EmbeddingNewParamsInputUnion{OfString: openai.String("hello")}, 1).Data[0].Embedding; len(v) != 1 || math.Abs(v[0]) != 1 {
		t.Errorf("dimensions 1: %v", v)
	}

	toks := embed(t, c, openai.EmbeddingNewParamsInputUnion{OfArrayOfTokenArrays: [][]int64{{1, 2, 3}, {4}}}, 4)
	if len(toks.Data) != 2 || toks.Usage.PromptTokens != 4 {
		t.Errorf("token arrays: %d embeddings, %d tokens", len(toks.Data), toks.Usage.PromptTokens)
	}
	flat := embed(t, c, openai.EmbeddingNewParamsInputUnion{OfArrayOfTokens: []int64{1, 2, 3}}, 4)
	if len(flat.Data) != 1 || flat.Usage.PromptTokens != 3 || !slices.Equal(flat.Data[0].Embedding, toks.Data[0].Embedding) {
		t.Errorf("one token array: %s", flat.RawJSON())
	}
}

func TestEmbeddingsBase64(t *testing.T) {
	t.Parallel()
	srv := start(t, mock.Config{})
	decode := func(body []byte) []json.RawMessage {
		t.Helper()
		var res struct {
			Data []struct {
				Object    string          `json:"object"`
				Index     int             `json:"index"`
				Embedding json.RawMessage `json:"embedding"`
			} `json:"data"`
			Model  string          `json:"model"`
			Object string          `json:"object"`
			Usage  json.RawMessage `json:"usage"`
		}
		strictDecode(t, string(body), &res)
		var out []json.RawMessage
		for _, d := range res.Data {
			out = append(out, d.Embedding)
		}
		return out
	}
	const in = `"input":["alpha","beta"],"dimensions":64`
	_, body := post(t, srv, pathEmbeddings, `{"model":"m",`+in+`}`)
	floats := decode(body)
	resp, body := post(t, srv, pathEmbeddings, `{"model":"m","encoding_format":"base64",`+in+`}`)
	if resp.StatusCode != 200 {
		t.Fatalf("status %d: %s", resp.StatusCode, body)
	}
	b64 := decode(body)
	if len(b64) != 2 || len(floats) != 2 {
		t.Fatalf("%d and %d embeddings", len(floats), len(b64))
	}
	for i := range b64 {
		var s string
		var f []float64
		if err := json.Unmarshal(b64[i], &s); err != nil {
			t.Fatalf("base64 embedding is not a string: %s", b64[i])
		}
		raw, err := base64.StdEncoding.DecodeString(s)
		if err != nil || len(raw) != 4*64 {
			t.Fatalf("base64: %v, %d bytes", err, len(raw))
		}
		_ = json.Unmarshal(floats[i], &f)
		for j := range 64 {
			got := math.Float32frombits(binary.LittleEndian.Uint32(raw[4*j:]))
			if got != float32(f[j]) {
				t.Errorf("input %d component %d: base64 %v, float %v", i, j, got, f[j])
			}
		}
	}
}

func TestEmbeddingsBadRequests(t *testing.T) {
	t.Parallel()
	srv := start(t, mock.Config{})
	many := `"` + strings.Repeat(`x","`, mock.MaxEmbeddingInputs) + `x"`
	for name, body := range map[string]string{
		"no model":          `{"input":"x"}`,
		"no input":          `{"model":"m"}`,
		"null input":        `{"model":"m","input":null}`,
		"empty string":      `{"model":"m","input":""}`,
		"empty array":       `{"model":"m","input":[]}`,
		"empty in array":    `{"model":"m","input":["a",""]}`,
		"mixed array":       `{"model":"m","input":["a",1]}`,
		"empty token array": `{"model":"m","input":[[1],[]]}`,
		"bad token":         `{"model":"m","input":[[1,"x"]]}`,
		"negative token":    `{"model":"m","input":[1,-2]}`,
		"object input":      `{"model":"m","input":{}}`,
		"number input":      `{"model":"m","input":42}`,
		"dimensions 0":      `{"model":"m","input":"x","dimensions":0}`,
		"dimensions big":    `{"model":"m","input":"x","dimensions":5000}`,
		"dimensions string": `{"model":"m","input":"x","dimensions":"8"}`,
		"encoding":          `{"model":"m","input":"x","encoding_format":"hex"}`,
		"too many inputs":   `{"model":"m","input":[` + many + `]}`,
		"too long input":    `{"model":"m","input":"` + strings.Repeat("x", 4*mock.MaxEmbeddingTokens+1) + `"}`,
		"not JSON":          `{"model":"m","input":"x"`,
	} {
		resp, b := post(t, srv, pathEmbeddings, body)
		var oe oaError
		strictDecode(t, string(b), &oe)
		if resp.StatusCode != 400 || oe.Error.Type != "invalid_request_error" || oe.Error.Message == "" {
			t.Errorf("%s: %d %s", name, resp.StatusCode, b)
		}
	}
	resp, b := post(t, srv, pathEmbeddings, `{"model":"m","input":["`+strings.Repeat("x", 4*mock.MaxEmbeddingTokens)+`"]}`)
	if resp.StatusCode != 200 {
		t.Errorf("an input of the maximum length: %d %.200s", resp.StatusCode, b)
	}
}

func TestEmbeddingsFailures(t *testing.T) {
	t.Parallel()
	var counters mock.Counters
	srv := start(t, mock.Config{Counters: &counters})
	const body = `{"model":"m","input":"x","dimensions":4}`

	resp, b := post(t, srv, pathEmbeddings, body, "X-Mock-Error-Rate: 1", "X-Mock-Error-Status: 429", "X-Mock-Retry-After: 3")
	var oe oaError
	strictDecode(t, string(b), &oe)
	if resp.StatusCode != 429 || resp.Header.Get("Retry-After") != "3" || oe.Error.Code == nil || *oe.Error.Code != "rate_limit_exceeded" {
		t.Errorf("injected 429: %d %s", resp.StatusCode, b)
	}

	t0 := time.Now()
	resp, _ = post(t, srv, pathEmbeddings, body, "X-Mock-Latency: 30", "X-Mock-TTFT: 30")
	if d := time.Since(t0); resp.StatusCode != 200 || d < 60*time.Millisecond {
		t.Errorf("latency + ttft: %d after %v", resp.StatusCode, d)
	}

	if _, err := do(t, srv, pathEmbeddings, body, "X-Mock-Reset: before-first-byte"); err == nil {
		t.Error("reset: no transport error")
	}
	resp, err := do(t, srv, pathEmbeddings, body, "X-Mock-Cut: true")
	if err == nil {
		_, err = readBody(resp)
	}
	if err == nil {
		t.Error("cut: the body arrived whole")
	}
	// The 200, the reset and the cut started generations; one finished.
	if s, f := counters.Started(), counters.Finished(); s != 3 || f != 1 {
		t.Errorf("counters: started %d finished %d", s, f)
	}
}
