package testkit

// The wire shapes that tests in several packages decode answers into (the
// router's end-to-end tests, its HTTP adapter's and the mock upstream's),
// written once.

// OpenAIError is OpenAI's error envelope as clients read it:
// {"error":{"message","type","param","code"}}, param and code null when
// absent.
type OpenAIError struct {
	Error struct {
		Message string  `json:"message"`
		Type    string  `json:"type"`
		Param   *string `json:"param"`
		Code    *string `json:"code"`
	} `json:"error"`
}
