package domain_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/airouter/airouter/core/domain"
)

func TestParseEmbeddingsRequest(t *testing.T) {
	for _, body := range []string{
		`{"model":"e","input":"hello"}`,
		`{"model":"e","input":["a","b"],"encoding_format":"base64","dimensions":256,"user":"u","extra":{"x":1}}`,
		`{"model":"e","input":[1,2,3]}`,
		`{"model":"e","input":[[1,2],[3]],"provider":"p","encoding_format":null}`,
	} {
		r, err := domain.ParseEmbeddingsRequest([]byte(body))
		if err != nil || r.Model != "e" || string(r.Raw) != body {
			t.Errorf("%s: %+v, %v", body, r, err)
		}
	}
	for body, want := range map[string]string{
		`{"input":"x"}`:                                   "model",
		`{"model":"e"}`:                                   "input",
		`{"model":"e","input":""}`:                        "input",
		`{"model":"e","input":[]}`:                        "input",
		`{"model":"e","input":["a",1]}`:                   "input",
		`{"model":"e","input":[[]]}`:                      "input",
		`{"model":"e","input":[1.5]}`:                     "input",
		`{"model":"e","input":{"a":1}}`:                   "input",
		`{"model":"e","input":"x","encoding_format":"x"}`: "encoding_format",
		`{"model":"e","input":"x","dimensions":0}`:        "dimensions",
		`{"model":"e","input":"x","dimensions":"3"}`:      "dimensions",
		`{"model":3,"input":"x"}`:                         "model",
		`{"model":"e","input":"x"} x`:                     "",
		`[1]`:                                             "",
	} {
		_, err := domain.ParseEmbeddingsRequest([]byte(body))
		var de *domain.Error
		if !errors.As(err, &de) || de.Code != domain.CodeInvalid || de.Field != want {
			t.Errorf("%s: %v, want an invalid %q", body, err, want)
		}
	}
	many := `{"model":"e","input":[` + strings.Repeat(`"a",`, 2048) + `"a"]}`
	if _, err := domain.ParseEmbeddingsRequest([]byte(many)); err == nil {
		t.Error("2049 inputs accepted")
	}
}

func TestParseImagesRequest(t *testing.T) {
	body := `{"model":"img","prompt":"a cat","n":2,"size":"1024x1024","response_format":"b64_json","quality":"hd"}`
	r, err := domain.ParseImagesRequest([]byte(body))
	if err != nil || r.Model != "img" || r.Stream {
		t.Fatalf("%+v, %v", r, err)
	}
	for body, want := range map[string]string{
		`{"prompt":"x"}`:                                   "model",
		`{"model":"i"}`:                                    "prompt",
		`{"model":"i","prompt":""}`:                        "prompt",
		`{"model":"i","prompt":"x","n":11}`:                "n",
		`{"model":"i","prompt":"x","n":0}`:                 "n",
		`{"model":"i","prompt":"x","response_format":"x"}`: "response_format",
		`{"model":"i","prompt":"x","stream":true}`:         "stream",
	} {
		_, err := domain.ParseImagesRequest([]byte(body))
		var de *domain.Error
		if !errors.As(err, &de) || de.Field != want {
			t.Errorf("%s: %v, want an invalid %q", body, err, want)
		}
	}
}
