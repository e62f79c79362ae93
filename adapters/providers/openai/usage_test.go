package openai

import (
	"encoding/json"
	"reflect"
	"testing"

	"github.com/airouter/airouter/core/domain"
)

// parseUsage reads what encoding/json would into domain.Usage (keys folded,
// the last repeated key winning, nulls leaving zeros, details kept as
// written and copied), plus the cached prompt tokens; a count that is not a
// number is an error.
func TestParseUsageMatchesEncodingJSON(t *testing.T) {
	t.Parallel()
	for _, in := range []string{
		`{"prompt_tokens":17,"completion_tokens":8,"total_tokens":25}`,
		`{"Prompt_Tokens":1,"prompt_tokens":2,"completion_tokens":null,"total_tokens":2,"extra":{"a":[1,2]}}`,
		`{"prompt_tokens":10,"completion_tokens":2,"total_tokens":12,"prompt_tokens_details":{"cached_tokens":4,"audio_tokens":0},"completion_tokens_details":{"reasoning_tokens":1}}`,
		`{"prompt_tokens":3,"prompt_tokens_details":null}`,
		`{}`,
	} {
		buf := []byte(in)
		got, err := parseUsage(buf)
		if err != nil {
			t.Fatalf("%s: %v", in, err)
		}
		var want domain.Usage
		if err := json.Unmarshal([]byte(in), &want); err != nil {
			t.Fatal(err)
		}
		want.CachedTokens = cachedTokens(want.PromptTokensDetails)
		for i := range buf {
			buf[i] = 'x' // the details must not alias the reused buffer
		}
		if !reflect.DeepEqual(*got, want) {
			t.Errorf("%s:\n got %+v\nwant %+v", in, *got, want)
		}
	}
	if u, _ := parseUsage([]byte(`{"prompt_tokens":10,"prompt_tokens_details":{"cached_tokens":4}}`)); u.CachedTokens != 4 {
		t.Errorf("cached tokens: %d", u.CachedTokens)
	}
	if u, err := parseUsage([]byte("null")); u != nil || err != nil {
		t.Errorf("null: %v %v", u, err)
	}
	for _, bad := range []string{`{"prompt_tokens":"17"}`, `{"prompt_tokens":1.5}`, `[1]`, `{"prompt_tokens":1`, `{"prompt_tokens":1,}`} {
		if _, err := parseUsage([]byte(bad)); err == nil {
			t.Errorf("%s: no error", bad)
		}
	}
}
