package httpapi

import (
	"net/http"
	"strings"
	"testing"
)

func TestResponsesDocumented(t *testing.T) {
	t.Parallel()
	paths := Document("test").OpenAPI().Paths
	for _, op := range []struct{ path, method, id string }{
		{"/v1/responses", http.MethodPost, "createResponse"},
		{"/v1/responses/{id}", http.MethodGet, "getResponse"},
		{"/v1/responses/{id}", http.MethodDelete, "deleteResponse"},
	} {
		item := paths[op.path]
		if item == nil {
			t.Fatalf("%s not documented", op.path)
		}
		got := map[string]string{}
		if item.Post != nil {
			got[http.MethodPost] = item.Post.OperationID
		}
		if item.Get != nil {
			got[http.MethodGet] = item.Get.OperationID
		}
		if item.Delete != nil {
			got[http.MethodDelete] = item.Delete.OperationID
		}
		if got[op.method] != op.id {
			t.Errorf("%s %s: operation %q, want %q", op.method, op.path, got[op.method], op.id)
		}
	}
}

func TestValidResponseID(t *testing.T) {
	t.Parallel()
	for id, want := range map[string]bool{
		"resp_3f9a": true, "resp_a-b_C9": true,
		"": false, "resp_": false, "msg_1": false, "resp_\x00": false, "resp_a b": false,
		"resp_é": false, "resp_" + strings.Repeat("a", 300): false,
	} {
		if got := validResponseID(id); got != want {
			t.Errorf("validResponseID(%q) = %v, want %v", id, got, want)
		}
	}
}
