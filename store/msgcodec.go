package store

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
)

// A message record is stored in one of three forms, told apart by its
// first byte:
//
//	'r' json    the JSON of the message without text and HTML, which are
//	            those of its raw message (Message.BodyFromRaw)
//	'{' …       the JSON of the whole message (a body that is not the raw
//	            message's, such as the note on an unparseable message)
//	'b' uvarint(len(json)) json zstd(uvarint(len(text)) text html)
//	            written by earlier builds; still read
//
// The bodies are most of a record, and the raw message is stored anyway:
// not repeating them halves the bytes a message costs the store and the
// pages a commit writes, and the session no longer compresses them twice.
const (
	msgBodyFromRaw = 'r'
	msgPacked      = 'b'
)

func encodeMessage(m *Message) ([]byte, error) {
	if !m.BodyFromRaw {
		return json.Marshal(m)
	}
	meta := *m
	meta.Text, meta.HTML = "", ""
	js, err := json.Marshal(&meta)
	if err != nil {
		return nil, err
	}
	return append([]byte{msgBodyFromRaw}, js...), nil
}

func decodeMessage(v []byte, m *Message) error {
	if len(v) > 0 && v[0] == msgBodyFromRaw {
		m.BodyFromRaw = true
		return json.Unmarshal(v[1:], m)
	}
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
