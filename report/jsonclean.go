package report

import (
	"bytes"
	"encoding/json"
	"fmt"
)

// dropNulls removes object members whose value is null, keeping member
// order. go-sarif writes some optional SARIF properties as null (e.g.
// suppression.location), which the SARIF schema rejects.
func dropNulls(in []byte) ([]byte, error) {
	dec := json.NewDecoder(bytes.NewReader(in))
	dec.UseNumber()
	var out bytes.Buffer
	if _, err := copyValue(dec, &out); err != nil {
		return nil, err
	}
	return out.Bytes(), nil
}

// copyValue copies one JSON value from dec to out and reports whether it was null.
func copyValue(dec *json.Decoder, out *bytes.Buffer) (isNull bool, err error) {
	tok, err := dec.Token()
	if err != nil {
		return false, err
	}
	switch t := tok.(type) {
	case json.Delim:
		switch t {
		case '{':
			out.WriteByte('{')
			first := true
			for dec.More() {
				keyTok, err := dec.Token()
				if err != nil {
					return false, err
				}
				key, ok := keyTok.(string)
				if !ok {
					return false, fmt.Errorf("unexpected object key %v", keyTok)
				}
				var val bytes.Buffer
				null, err := copyValue(dec, &val)
				if err != nil {
					return false, err
				}
				if null {
					continue
				}
				if !first {
					out.WriteByte(',')
				}
				first = false
				k, _ := json.Marshal(key)
				out.Write(k)
				out.WriteByte(':')
				out.Write(val.Bytes())
			}
			if _, err := dec.Token(); err != nil {
				return false, err
			}
			out.WriteByte('}')
		case '[':
			out.WriteByte('[')
			first := true
			for dec.More() {
				if !first {
					out.WriteByte(',')
				}
				first = false
				if _, err := copyValue(dec, out); err != nil {
					return false, err
				}
			}
			if _, err := dec.Token(); err != nil {
				return false, err
			}
			out.WriteByte(']')
		default:
			return false, fmt.Errorf("unexpected delimiter %v", t)
		}
	case nil:
		out.WriteString("null")
		return true, nil
	case json.Number:
		out.WriteString(t.String())
	default:
		b, err := json.Marshal(t)
		if err != nil {
			return false, err
		}
		out.Write(b)
	}
	return false, nil
}
