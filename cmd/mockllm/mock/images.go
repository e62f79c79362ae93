package mock

import (
	"bytes"
	"compress/zlib"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/airouter/airouter/core/jsonx"
)

// OpenAI image generation (POST /v1/images/generations). Every image is a
// PNG of the requested size in one colour derived from the prompt, cheap to
// make at any size: 1-bit palette pixels, whose compressed rows depend on
// the size only and are cached.
const (
	// MaxImages bounds n, as OpenAI does.
	MaxImages = 10
	// MaxImageSide bounds the width and height of an image.
	MaxImageSide = 4096
	// MaxImagePrompt bounds the prompt, in bytes as written.
	MaxImagePrompt = 32000
	// imagePathPrefix serves the images of url answers:
	// /mock/images/WxH/RRGGBB.png.
	imagePathPrefix = "/mock/images/"
	// imageTokens is what gpt-image-1 bills for a 1024x1024 image of
	// medium quality; other sizes scale with their area.
	imageTokens = 1056
)

// imageInfo is a checked image generation request.
type imageInfo struct {
	prompt []byte // raw JSON string literal
	n      int
	w, h   int
	url    bool
}

var errPrompt = errors.New("prompt: field required")

// scanImages checks an image generation request and reads what the answer
// depends on.
func scanImages(b []byte, ii *imageInfo) error {
	if err := checkObject(b); err != nil {
		return err
	}
	ii.n, ii.w, ii.h = 1, 1024, 1024
	it := jsonx.Object(b)
	var m jsonx.Member
	for it.Next(&m) {
		v := m.Value(b)
		switch string(m.RawKey()) {
		case "prompt":
			if v[0] != '"' {
				return errNotStr
			}
			ii.prompt = v
		case "n":
			n, err := integer(v)
			if err != nil || n > MaxImages || (n == 0 && !jsonx.IsNull(v)) {
				return fmt.Errorf("n: want an integer in 1..%d", MaxImages)
			}
			if n > 0 {
				ii.n = int(n)
			}
		case "size":
			if jsonx.IsNull(v) {
				continue
			}
			w, h, ok := parseImageSize(v)
			if !ok {
				return fmt.Errorf(`size: %s: want "auto" or WIDTHxHEIGHT, each 1..%d`, v, MaxImageSide)
			}
			ii.w, ii.h = w, h
		case "response_format":
			switch string(v) {
			case `"b64_json"`, "null":
				ii.url = false
			case `"url"`:
				ii.url = true
			default:
				return errors.New(`response_format: want "url" or "b64_json"`)
			}
		}
	}
	if it.Err() != nil {
		return errSyntax
	}
	switch {
	case len(ii.prompt) <= 2:
		return errPrompt
	case len(ii.prompt)-2 > MaxImagePrompt:
		return fmt.Errorf("prompt: at most %d characters", MaxImagePrompt)
	}
	return nil
}

// parseImageSize reads "auto" (1024x1024) or "WxH", quoted or not.
func parseImageSize(v []byte) (w, h int, ok bool) {
	s := strings.TrimSuffix(strings.TrimPrefix(string(v), `"`), `"`)
	if s == "auto" {
		return 1024, 1024, true
	}
	ws, hs, found := strings.Cut(s, "x")
	if !found {
		return 0, 0, false
	}
	w, werr := strconv.Atoi(ws)
	h, herr := strconv.Atoi(hs)
	if werr != nil || herr != nil || w < 1 || h < 1 || w > MaxImageSide || h > MaxImageSide {
		return 0, 0, false
	}
	return w, h, true
}

// colour is image i's colour for the prompt.
func (ii *imageInfo) colour(i int) [3]byte {
	s := seed(ii.prompt, false) + uint64(i)
	z := splitmix64(&s)
	return [3]byte{byte(z), byte(z >> 8), byte(z >> 16)}
}

// appendJSON appends the images response; url answers point at the mock
// itself (r's host).
func (ii *imageInfo) appendJSON(dst []byte, r *http.Request, created int64) []byte {
	dst = append(dst, `{"created":`...)
	dst = strconv.AppendInt(dst, created, 10)
	dst = append(dst, `,"data":[`...)
	var png []byte
	for i := range ii.n {
		if i > 0 {
			dst = append(dst, ',')
		}
		c := ii.colour(i)
		if ii.url {
			dst = append(dst, `{"url":`...)
			dst = jsonx.AppendString(dst, imageURL(r, ii.w, ii.h, c))
			dst = append(dst, '}')
			continue
		}
		png = appendPNG(png[:0], ii.w, ii.h, c)
		dst = append(dst, `{"b64_json":"`...)
		dst = base64.StdEncoding.AppendEncode(dst, png)
		dst = append(dst, `"}`...)
	}
	dst = append(dst, `],"background":"opaque","output_format":"png","size":"`...)
	dst = strconv.AppendInt(dst, int64(ii.w), 10)
	dst = append(dst, 'x')
	dst = strconv.AppendInt(dst, int64(ii.h), 10)
	in := max(1, (len(ii.prompt)-2+BytesPerToken-1)/BytesPerToken)
	out := ii.n * max(1, imageTokens*ii.w*ii.h/(1024*1024))
	dst = append(dst, `","usage":{"input_tokens":`...)
	dst = strconv.AppendInt(dst, int64(in), 10)
	dst = append(dst, `,"input_tokens_details":{"image_tokens":0,"text_tokens":`...)
	dst = strconv.AppendInt(dst, int64(in), 10)
	dst = append(dst, `},"output_tokens":`...)
	dst = strconv.AppendInt(dst, int64(out), 10)
	dst = append(dst, `,"total_tokens":`...)
	dst = strconv.AppendInt(dst, int64(in+out), 10)
	return append(dst, "}}"...)
}

func imageURL(r *http.Request, w, h int, c [3]byte) string {
	scheme := "http://"
	if r.TLS != nil {
		scheme = "https://"
	}
	return fmt.Sprintf("%s%s%s%dx%d/%02x%02x%02x.png", scheme, r.Host, imagePathPrefix, w, h, c[0], c[1], c[2])
}

// serveImageFile serves GET /mock/images/WxH/RRGGBB.png, without a key, as
// the signed URLs of OpenAI's answers need none.
func (h *handler) serveImageFile(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		h.writeError(w, openAI, http.StatusMethodNotAllowed, "")
		return
	}
	size, name, _ := strings.Cut(strings.TrimPrefix(r.URL.Path, imagePathPrefix), "/")
	hex, isPNG := strings.CutSuffix(name, ".png")
	iw, ih, ok := parseImageSize([]byte(size))
	rgb, err := strconv.ParseUint(hex, 16, 32)
	if !ok || !isPNG || len(hex) != 6 || err != nil {
		h.writeError(w, openAI, http.StatusNotFound, "")
		return
	}
	png := appendPNG(nil, iw, ih, [3]byte{byte(rgb >> 16), byte(rgb >> 8), byte(rgb)})
	w.Header().Set("Content-Type", "image/png")
	w.Header().Set("Content-Length", strconv.Itoa(len(png)))
	_, _ = w.Write(png)
}

var pngSignature = []byte("\x89PNG\r\n\x1a\n")

// appendPNG appends a w×h PNG of colour c.
func appendPNG(dst []byte, w, h int, c [3]byte) []byte {
	dst = append(dst, pngSignature...)
	var ihdr [13]byte
	binary.BigEndian.PutUint32(ihdr[0:], uint32(w))
	binary.BigEndian.PutUint32(ihdr[4:], uint32(h))
	ihdr[8], ihdr[9] = 1, 3 // bit depth 1, palette colour
	dst = appendChunk(dst, "IHDR", ihdr[:])
	dst = appendChunk(dst, "PLTE", c[:])
	dst = appendChunk(dst, "IDAT", pixels(w, h))
	return appendChunk(dst, "IEND", nil)
}

func appendChunk(dst []byte, typ string, data []byte) []byte {
	dst = binary.BigEndian.AppendUint32(dst, uint32(len(data)))
	start := len(dst)
	dst = append(dst, typ...)
	dst = append(dst, data...)
	return binary.BigEndian.AppendUint32(dst, crc32.ChecksumIEEE(dst[start:]))
}

// The compressed pixel rows by size; at most maxCachedSizes are kept.
var (
	pixelCache     sync.Map // [2]int → []byte
	pixelCacheSize atomic.Int32
)

const maxCachedSizes = 64

// pixels is the zlib stream of h rows of w palette index 0 pixels, each
// row led by filter type 0.
func pixels(w, h int) []byte {
	key := [2]int{w, h}
	if b, ok := pixelCache.Load(key); ok {
		return b.([]byte)
	}
	var buf bytes.Buffer
	zw, _ := zlib.NewWriterLevel(&buf, zlib.BestCompression)
	row := make([]byte, 1+(w+7)/8)
	for range h {
		_, _ = zw.Write(row)
	}
	_ = zw.Close()
	b := buf.Bytes()
	if pixelCacheSize.Add(1) <= maxCachedSizes {
		pixelCache.Store(key, b)
	}
	return b
}
