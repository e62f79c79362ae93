package mock

import (
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"strconv"

	"github.com/airouter/airouter/core/jsonx"
)

// OpenAI Embeddings (POST /v1/embeddings).
const (
	// DefaultDimensions is the length of a vector when the request sets no
	// dimensions, as text-embedding-3-small's.
	DefaultDimensions = 1536
	// MaxDimensions bounds dimensions, as text-embedding-3-large's.
	MaxDimensions = 3072
	// MaxEmbeddingInputs bounds the inputs of one request, as OpenAI does.
	MaxEmbeddingInputs = 2048
	// MaxEmbeddingTokens bounds the tokens of one input (a string counts
	// BytesPerToken bytes a token).
	MaxEmbeddingTokens = 8192
)

// Input shapes of an embeddings request.
const (
	inString      = iota + 1 // "text"
	inStrings                // ["a", "b"]
	inTokens                 // [1, 2, 3]: one input
	inTokenArrays            // [[1, 2], [3]]
)

// embedInfo is a checked embeddings request.
type embedInfo struct {
	model  []byte // raw JSON string literal
	input  []byte // raw JSON value
	shape  int
	tokens int // prompt tokens of all inputs
	dims   int
	base64 bool
}

var (
	errEmbedInput = errors.New("'$.input' is invalid: want a non-empty string, an array of non-empty strings, an array of integers or an array of non-empty integer arrays")
	errEmbedModel = errors.New("model: field required")
	errEmbedNoIn  = errors.New("input: field required")
)

// scanEmbeddings checks an embeddings request and reads what the answer
// depends on.
func scanEmbeddings(b []byte, ei *embedInfo) error {
	if err := checkObject(b); err != nil {
		return err
	}
	ei.dims = DefaultDimensions
	it := jsonx.Object(b)
	var m jsonx.Member
	for it.Next(&m) {
		v := m.Value(b)
		switch string(m.RawKey()) {
		case "model":
			if v[0] != '"' {
				return errNotStr
			}
			ei.model = v
		case "input":
			ei.input = v
		case "dimensions":
			n, err := integer(v)
			if err != nil || (n == 0 && !jsonx.IsNull(v)) || n > MaxDimensions {
				return fmt.Errorf("dimensions: want an integer in 1..%d", MaxDimensions)
			}
			if n > 0 {
				ei.dims = int(n)
			}
		case "encoding_format":
			switch string(v) {
			case `"float"`, "null":
				ei.base64 = false
			case `"base64"`:
				ei.base64 = true
			default:
				return errors.New(`encoding_format: want "float" or "base64"`)
			}
		}
	}
	if it.Err() != nil {
		return errSyntax
	}
	switch {
	case ei.model == nil || len(ei.model) == 2:
		return errEmbedModel
	case ei.input == nil || jsonx.IsNull(ei.input):
		return errEmbedNoIn
	}
	return ei.scanInput()
}

// scanInput finds the input's shape and counts its tokens, rejecting what
// OpenAI rejects: empty inputs, mixed arrays, too many inputs, too long
// ones.
func (ei *embedInfo) scanInput() error {
	v := ei.input
	switch v[0] {
	case '"':
		ei.shape = inString
		n, err := stringTokens(v)
		ei.tokens = n
		return err
	case '[':
	default:
		return errEmbedInput
	}
	count := 0
	for e := range elements(v) {
		count++
		var shape, n int
		var err error
		switch e[0] {
		case '"':
			shape = inStrings
			n, err = stringTokens(e)
		case '[':
			shape = inTokenArrays
			n, err = tokenArray(e)
		default:
			shape = inTokens
			if _, ierr := integer(e); ierr != nil || jsonx.IsNull(e) {
				return errEmbedInput
			}
			n = 1
		}
		if err != nil {
			return err
		}
		if ei.shape != 0 && shape != ei.shape {
			return errEmbedInput
		}
		ei.shape = shape
		ei.tokens += n
	}
	switch {
	case count == 0:
		return errEmbedInput
	case ei.shape == inTokens && count > MaxEmbeddingTokens:
		return contextError(count)
	case ei.shape != inTokens && count > MaxEmbeddingInputs:
		return fmt.Errorf("'$.input' is invalid: at most %d inputs, got %d", MaxEmbeddingInputs, count)
	}
	return nil
}

func contextError(n int) error {
	//lint:ignore ST1005 OpenAI's own message, word for word
	return fmt.Errorf("This model's maximum context length is %d tokens, however you requested %d tokens (%d in your prompt; 0 for the completion). Please reduce your prompt; or completion length.",
		MaxEmbeddingTokens, n, n)
}

// stringTokens counts the tokens of a string input, as written.
func stringTokens(lit []byte) (int, error) {
	if len(lit) <= 2 {
		return 0, errEmbedInput
	}
	n := (len(lit) - 2 + BytesPerToken - 1) / BytesPerToken
	if n > MaxEmbeddingTokens {
		return 0, contextError(n)
	}
	return n, nil
}

// tokenArray counts the tokens of a non-empty array of token ids.
func tokenArray(v []byte) (int, error) {
	n := 0
	for e := range elements(v) {
		if _, err := integer(e); err != nil || jsonx.IsNull(e) {
			return 0, errEmbedInput
		}
		n++
	}
	switch {
	case n == 0:
		return 0, errEmbedInput
	case n > MaxEmbeddingTokens:
		return 0, contextError(n)
	}
	return n, nil
}

// appendJSON appends the embeddings response.
func (ei *embedInfo) appendJSON(dst []byte) []byte {
	dst = append(dst, `{"object":"list","data":[`...)
	switch ei.shape {
	case inString, inTokens:
		dst = ei.appendEmbedding(dst, 0, seed(ei.input, ei.shape == inTokens))
	default:
		i := 0
		for e := range elements(ei.input) {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = ei.appendEmbedding(dst, i, seed(e, ei.shape == inTokenArrays))
			i++
		}
	}
	dst = append(dst, `],"model":`...)
	dst = append(dst, ei.model...)
	dst = append(dst, `,"usage":{"prompt_tokens":`...)
	dst = strconv.AppendInt(dst, int64(ei.tokens), 10)
	dst = append(dst, `,"total_tokens":`...)
	dst = strconv.AppendInt(dst, int64(ei.tokens), 10)
	return append(dst, "}}"...)
}

// seed hashes one input (FNV-1a): a string as written, a token array by
// its numbers, so spacing does not change the vector.
func seed(v []byte, tokens bool) uint64 {
	h := uint64(14695981039346656037)
	mix := func(c byte) {
		h ^= uint64(c)
		h *= 1099511628211
	}
	if !tokens {
		for _, c := range v {
			mix(c)
		}
		return h
	}
	for e := range elements(v) {
		for _, c := range e {
			mix(c)
		}
		mix(',')
	}
	return h
}

// splitmix64 is the generator of the vectors' components.
func splitmix64(s *uint64) uint64 {
	*s += 0x9e3779b97f4a7c15
	z := *s
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}

// component is the next uniform value in [-1, 1).
func component(s *uint64) float64 {
	return float64(int64(splitmix64(s))) / (1 << 63)
}

// embedScale is the fixed point of the rendered components: 9 decimals,
// more than a float32 holds.
const embedScale = 1e9

// appendEmbedding appends the embedding object of input i: the first dims
// components of the input's generator stream, scaled to unit length, so a
// shorter vector is a longer one's prefix renormalised, as with OpenAI's
// dimensions. Floats are written with 9 decimals; base64 holds the same
// values as little-endian float32s.
func (ei *embedInfo) appendEmbedding(dst []byte, i int, sd uint64) []byte {
	dst = append(dst, `{"object":"embedding","index":`...)
	dst = strconv.AppendInt(dst, int64(i), 10)
	dst = append(dst, `,"embedding":`...)
	s := sd
	var sum float64
	for range ei.dims {
		x := component(&s)
		sum += x * x
	}
	scale := embedScale / math.Sqrt(sum)
	s = sd
	if ei.base64 {
		var raw [4 * MaxDimensions]byte
		for j := range ei.dims {
			k := math.Round(component(&s) * scale)
			binary.LittleEndian.PutUint32(raw[4*j:], math.Float32bits(float32(k/embedScale)))
		}
		dst = append(dst, '"')
		dst = base64.StdEncoding.AppendEncode(dst, raw[:4*ei.dims])
		return append(dst, `"}`...)
	}
	dst = append(dst, '[')
	for j := range ei.dims {
		if j > 0 {
			dst = append(dst, ',')
		}
		dst = appendFixed(dst, int64(math.Round(component(&s)*scale)))
	}
	return append(dst, "]}"...)
}

// appendFixed appends k/embedScale with 9 decimals.
func appendFixed(dst []byte, k int64) []byte {
	if k < 0 {
		dst = append(dst, '-')
		k = -k
	}
	if k >= embedScale { // only a vector of one dimension reaches ±1
		dst = strconv.AppendInt(dst, k/embedScale, 10)
		k %= embedScale
	} else {
		dst = append(dst, '0')
	}
	var b [10]byte
	b[0] = '.'
	u := uint32(k)
	for i := 9; i >= 1; i-- {
		b[i] = byte('0' + u%10)
		u /= 10
	}
	return append(dst, b[:]...)
}
