package bolt

import "encoding/json"

// A message record is stored in one of two forms, told apart by its first
// byte:
//
//	'r' json    the JSON of the message without text and HTML, which are
//	            those of its raw message (Message.BodyFromRaw)
//	'{' …       the JSON of the whole message (a body that is not the raw
//	            message's, such as the note on an unparseable message)
//
// The bodies are most of a record, and the raw message is stored anyway:
// not repeating them halves the bytes a message costs the store and the
// pages a commit writes, and the session no longer compresses them twice.
const msgBodyFromRaw = 'r'

func encodeMessage(m *Message) ([]byte, error) {
	if !m.BodyFromRaw {
		return json.Marshal(m)
	}
	meta := *m
	meta.Text, meta.HTML, meta.TextReply = "", "", ""
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
	return json.Unmarshal(v, m)
}
