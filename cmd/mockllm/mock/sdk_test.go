package mock_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
)

// sdk returns an openai-go client of srv that never retries; hdr is
// "Key: value" pairs sent with every request.
func sdk(t *testing.T, srv *httptest.Server, hdr ...string) openai.Client {
	t.Helper()
	opts := []option.RequestOption{
		option.WithBaseURL(srv.URL + "/v1/"),
		option.WithAPIKey("sk-test"),
		option.WithMaxRetries(0),
		option.WithHTTPClient(client(t)),
	}
	for _, h := range hdr {
		k, v, _ := strings.Cut(h, ":")
		opts = append(opts, option.WithHeader(k, strings.TrimSpace(v)))
	}
	return openai.NewClient(opts...)
}

// checkSDK walks a value decoded by openai-go and fails for every field the
// mock sent that the SDK's type lacks (JSON.ExtraFields) and every
// api:"required" field it left out, except the fields named in exempt
// (by their JSON names): required ones the mock leaves out, or ones it
// sends that the SDK's type lacks. Unions carry no such metadata; callers
// check their variants (AsMessage and the like) themselves.
func checkSDK(t *testing.T, v any, exempt ...string) {
	t.Helper()
	walkSDK(t, reflect.ValueOf(v), reflect.TypeOf(v).String(), exempt)
}

func walkSDK(t *testing.T, v reflect.Value, path string, absent []string) {
	t.Helper()
	switch v.Kind() {
	case reflect.Pointer, reflect.Interface:
		if !v.IsNil() {
			walkSDK(t, v.Elem(), path, absent)
		}
	case reflect.Slice, reflect.Array:
		for i := range v.Len() {
			walkSDK(t, v.Index(i), path+"[]", absent)
		}
	case reflect.Struct:
		meta := v.FieldByName("JSON")
		var extra reflect.Value
		if meta.IsValid() && meta.Kind() == reflect.Struct {
			extra = meta.FieldByName("ExtraFields")
		}
		if extra.IsValid() && extra.Len() > 0 {
			for _, k := range extra.MapKeys() {
				if contains(absent, k.String()) {
					continue
				}
				t.Errorf("%s: field %q is not in the SDK's type", path, k.String())
			}
		}
		typ := v.Type()
		for i := range typ.NumField() {
			f := typ.Field(i)
			if !f.IsExported() || f.Name == "JSON" {
				continue
			}
			name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
			raw := "?"
			if m := meta.FieldByName(f.Name); m.IsValid() && m.Kind() == reflect.Struct {
				raw = m.MethodByName("Raw").Call(nil)[0].String()
			}
			if extra.IsValid() && raw == "" && strings.Contains(f.Tag.Get("api"), "required") && !contains(absent, name) {
				t.Errorf("%s: required field %q missing", path, name)
			}
			if raw != "" && raw != "null" { // the zero value of an absent field has nothing to check
				walkSDK(t, v.Field(i), path+"."+name, absent)
			}
		}
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// readBody reads and closes resp's body, returning the read error.
func readBody(resp *http.Response) ([]byte, error) {
	defer resp.Body.Close()
	return io.ReadAll(resp.Body)
}
