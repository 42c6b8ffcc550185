package sio

import (
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"unicode/utf8"
)

// encodePacket builds the frames of one outgoing EVENT (hasName) or ACK
// packet: the text frame followed by one binary frame per []byte argument.
// id < 0 means no ack id.
func encodePacket(nsp string, typ int, id int64, name string, hasName bool, args []any) ([]*frame, error) {
	attachments := 0
	size := 16 + len(nsp) + len(name)
	for _, a := range args {
		switch v := a.(type) {
		case []byte:
			attachments++
			size += 32
		case json.RawMessage:
			size += len(v) + 1
		case string:
			size += len(v) + 3
		default:
			size += 16
		}
	}
	buf := appendPacketHead(newFrameBuf(size), typ, attachments, nsp, id)
	buf = append(buf, '[')
	first := true
	if hasName {
		buf = appendJSONString(buf, name)
		first = false
	}
	var frames []*frame
	if attachments > 0 {
		frames = make([]*frame, 1, 1+attachments)
	} else {
		frames = make([]*frame, 1)
	}
	num := 0
	for _, a := range args {
		if !first {
			buf = append(buf, ',')
		}
		first = false
		var err error
		buf, err = appendArg(buf, a, &num)
		if err != nil {
			return nil, err
		}
		if b, ok := a.([]byte); ok {
			frames = append(frames, binaryFrame(b))
		}
	}
	buf = append(buf, ']')
	frames[0] = finish(buf, false)
	return frames, nil
}

// appendPacketHead appends the head of an outgoing EVENT or ACK packet
// (typ; the binary type when it has attachments) for namespace nsp, with
// ack id id (none when < 0): everything before its JSON array.
func appendPacketHead(buf []byte, typ, attachments int, nsp string, id int64) []byte {
	buf = append(buf, '4')
	if attachments > 0 {
		buf = append(buf, byte('0'+typ+3))
		buf = strconv.AppendInt(buf, int64(attachments), 10)
		buf = append(buf, '-')
	} else {
		buf = append(buf, byte('0'+typ))
	}
	if nsp != "/" {
		buf = append(buf, nsp...)
		buf = append(buf, ',')
	}
	if id >= 0 {
		buf = strconv.AppendInt(buf, id, 10)
	}
	return buf
}

// encodeEventBody encodes the payload of a broadcast EVENT, the JSON array
// ["event",args...], with placeholders for []byte arguments, which are
// returned as attachments (not copied).
func encodeEventBody(name string, args []any) ([]byte, [][]byte, error) {
	size, atts := eventSize(name, args)
	body, err := appendEventBody(make([]byte, 0, size), name, args, "")
	return body, atts, err
}

// encodeEventFrame is encodeEventBody written straight into the event's
// frame for namespace nsp, with extra ("" none) appended as a last string
// argument; body is the payload within the frame's buffer.
func encodeEventFrame(nsp, name string, args []any, extra string) (f *frame, body []byte, atts [][]byte, err error) {
	size, atts := eventSize(name, args)
	if extra != "" {
		size += len(extra) + 3
	}
	buf := appendEventHeader(newFrameBuf(size+len(nsp)+8), nsp, len(atts))
	start := len(buf)
	if buf, err = appendEventBody(buf, name, args, extra); err != nil {
		return nil, nil, nil, err
	}
	return finish(buf, false), buf[start:len(buf):len(buf)], atts, nil
}

// eventSize estimates the size of an encoded event and collects its
// []byte arguments.
func eventSize(name string, args []any) (size int, atts [][]byte) {
	size = 8 + len(name)
	for _, a := range args {
		switch v := a.(type) {
		case []byte:
			atts = append(atts, v)
			size += 32
		case json.RawMessage:
			size += len(v) + 1
		case string:
			size += len(v) + 3
		default:
			size += 16
		}
	}
	return size, atts
}

// appendEventBody appends ["name",args...,"extra"] (no extra when "").
func appendEventBody(buf []byte, name string, args []any, extra string) ([]byte, error) {
	buf = append(buf, '[')
	buf = appendJSONString(buf, name)
	num := 0
	for _, a := range args {
		buf = append(buf, ',')
		var err error
		if buf, err = appendArg(buf, a, &num); err != nil {
			return nil, err
		}
	}
	if extra != "" {
		buf = append(buf, ',')
		buf = appendJSONString(buf, extra)
	}
	return append(buf, ']'), nil
}

// eventFrame frames an encoded event payload for namespace nsp: an EVENT,
// or a BINARY_EVENT when it has attachments.
func eventFrame(nsp string, body []byte, attachments int) *frame {
	buf := appendEventHeader(newFrameBuf(len(body)+len(nsp)+8), nsp, attachments)
	buf = append(buf, body...)
	return finish(buf, false)
}

// appendEventHeader appends the packet type and namespace of an EVENT, or
// of a BINARY_EVENT with its attachment count.
func appendEventHeader(buf []byte, nsp string, attachments int) []byte {
	return appendPacketHead(buf, pEvent, attachments, nsp, -1)
}

func appendArg(buf []byte, a any, num *int) ([]byte, error) {
	switch v := a.(type) {
	case nil:
		return append(buf, "null"...), nil
	case json.RawMessage:
		if len(v) == 0 {
			return append(buf, "null"...), nil
		}
		return append(buf, v...), nil
	case []byte:
		buf = append(buf, `{"_placeholder":true,"num":`...)
		buf = strconv.AppendInt(buf, int64(*num), 10)
		*num++
		return append(buf, '}'), nil
	case string:
		return appendJSONString(buf, v), nil
	case bool:
		return strconv.AppendBool(buf, v), nil
	case int:
		return strconv.AppendInt(buf, int64(v), 10), nil
	case int64:
		return strconv.AppendInt(buf, v, 10), nil
	case float64:
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return nil, fmt.Errorf("sio: encode argument: unsupported float %v", v)
		}
		return strconv.AppendFloat(buf, v, 'g', -1, 64), nil
	default:
		b, err := json.Marshal(v)
		if err != nil {
			return nil, fmt.Errorf("sio: encode argument: %w", err)
		}
		return append(buf, b...), nil
	}
}

const hexDigits = "0123456789abcdef"

// appendJSONString appends s as a JSON string.
func appendJSONString(buf []byte, s string) []byte {
	if !utf8.ValidString(s) {
		b, _ := json.Marshal(s)
		return append(buf, b...)
	}
	buf = append(buf, '"')
	start := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' {
			continue
		}
		buf = append(buf, s[start:i]...)
		switch c {
		case '"', '\\':
			buf = append(buf, '\\', c)
		case '\n':
			buf = append(buf, '\\', 'n')
		case '\r':
			buf = append(buf, '\\', 'r')
		case '\t':
			buf = append(buf, '\\', 't')
		default:
			buf = append(buf, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xF])
		}
		start = i + 1
	}
	buf = append(buf, s[start:]...)
	return append(buf, '"')
}

// controlPacket builds a CONNECT, CONNECT_ERROR or DISCONNECT packet.
func controlPacket(typ int, nsp string, payload []byte) *frame {
	buf := newFrameBuf(3 + len(nsp) + len(payload))
	buf = append(buf, '4', byte('0'+typ))
	if nsp != "/" {
		buf = append(buf, nsp...)
		buf = append(buf, ',')
	}
	buf = append(buf, payload...)
	return finish(buf, false)
}
