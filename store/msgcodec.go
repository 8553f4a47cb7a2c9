package store

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
)

// A message record is stored as its JSON without the text and HTML bodies,
// followed by the bodies zstd-compressed. The bodies are most of a record
// and compress 3-4x; packing them (PackBody) is done by the caller before
// the write transaction, so the single writer only copies bytes, and a
// typical record then fits in a shared page instead of overflow pages of
// its own.
//
//	'b' uvarint(len(json)) json zstd(uvarint(len(text)) text html)
//
// A record that starts with '{' is plain JSON (what a message without a
// packed body is stored as).
const msgPacked = 'b'

// PackedBody is a message's text and HTML in stored form.
type PackedBody []byte

// PackBody compresses text and html for Message.Body.
func PackBody(text, html string) PackedBody {
	plain := binary.AppendUvarint(make([]byte, 0, len(text)+len(html)+10), uint64(len(text)))
	plain = append(append(plain, text...), html...)
	return rawEncoder.EncodeAll(plain, make([]byte, 0, len(plain)/2+16))
}

func encodeMessage(m *Message) ([]byte, error) {
	if len(m.Body) == 0 {
		return json.Marshal(m)
	}
	meta := *m
	meta.Text, meta.HTML = "", ""
	js, err := json.Marshal(&meta)
	if err != nil {
		return nil, err
	}
	out := make([]byte, 0, 1+binary.MaxVarintLen64+len(js)+len(m.Body))
	out = append(out, msgPacked)
	out = binary.AppendUvarint(out, uint64(len(js)))
	out = append(out, js...)
	return append(out, m.Body...), nil
}

func decodeMessage(v []byte, m *Message) error {
	if len(v) == 0 || v[0] != msgPacked {
		return json.Unmarshal(v, m)
	}
	n, k := binary.Uvarint(v[1:])
	if k <= 0 || uint64(len(v)-1-k) < n {
		return errors.New("message record: bad length")
	}
	js, body := v[1+k:1+k+int(n)], v[1+k+int(n):]
	if err := json.Unmarshal(js, m); err != nil {
		return err
	}
	plain, err := rawDecoder.DecodeAll(body, nil)
	if err != nil {
		return fmt.Errorf("message record: decompress body: %w", err)
	}
	tl, k := binary.Uvarint(plain)
	if k <= 0 || uint64(len(plain)-k) < tl {
		return errors.New("message record: bad body length")
	}
	m.Text = string(plain[k : k+int(tl)])
	m.HTML = string(plain[k+int(tl):])
	return nil
}
