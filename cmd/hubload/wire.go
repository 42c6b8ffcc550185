package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
)

// Engine.IO 4 / Socket.IO 5 text packets as they travel in one WebSocket frame.
// Only the handful hubload needs are handled; everything is byte-level so the
// receive path never decodes JSON.

const (
	eioOpen = '0'
	eioPing = '2'
	eioPong = '3'
	eioMsg  = '4'

	sioConnect      = '0'
	sioDisconnect   = '1'
	sioEvent        = '2'
	sioAck          = '3'
	sioConnectError = '4'

	eventMessageArrived = "hub:messageArrived"
)

// packets holds the byte prefixes for one namespace, computed once.
type packets struct {
	ns       string
	nsPrefix []byte // "/hub/chatHub," or empty for the main namespace
	event    []byte // "42" + nsPrefix
	ack      []byte // "43" + nsPrefix
	connect  []byte // "40" + nsPrefix
	connErr  []byte // "44" + nsPrefix
	disc     []byte // "41" + nsPrefix
	arrived  []byte // event + `["hub:messageArrived",`
}

func newPackets(ns string) *packets {
	var nsPrefix []byte
	if ns != "" && ns != "/" {
		nsPrefix = []byte(ns + ",")
	}
	p := &packets{ns: ns, nsPrefix: nsPrefix}
	mk := func(kind byte) []byte { return append([]byte{eioMsg, kind}, nsPrefix...) }
	p.event = mk(sioEvent)
	p.ack = mk(sioAck)
	p.connect = mk(sioConnect)
	p.connErr = mk(sioConnectError)
	p.disc = mk(sioDisconnect)
	p.arrived = append(append([]byte{}, p.event...), `["`+eventMessageArrived+`",`...)
	return p
}

// connectPacket is the namespace CONNECT with the auth payload.
func (p *packets) connectPacket(token string) ([]byte, error) {
	auth := map[string]string{}
	if token != "" {
		auth["token"] = token
	}
	b, err := json.Marshal(auth)
	if err != nil {
		return nil, fmt.Errorf("encode auth: %w", err)
	}
	return append(append([]byte{}, p.connect...), b...), nil
}

// appendEmit appends `42<ns>,<ackID>["<event>",<payload>]` to dst.
func (p *packets) appendEmit(dst []byte, ackID uint64, event string, payload []byte) []byte {
	dst = append(dst, p.event...)
	dst = strconv.AppendUint(dst, ackID, 10)
	dst = append(dst, `["`...)
	dst = append(dst, event...)
	dst = append(dst, `",`...)
	dst = append(dst, payload...)
	return append(dst, ']')
}

// appendSend appends a hub:send emit whose text body is the send time in Unix
// nanoseconds, without allocating.
// roomJSON is the room id already quoted as a JSON string.
func (p *packets) appendSend(dst []byte, ackID uint64, roomJSON []byte, sendNanos int64) []byte {
	dst = append(dst, p.event...)
	dst = strconv.AppendUint(dst, ackID, 10)
	dst = append(dst, `["hub:send",{"roomId":`...)
	dst = append(dst, roomJSON...)
	dst = append(dst, `,"messageType":"text","content":{"body":"`...)
	dst = strconv.AppendInt(dst, sendNanos, 10)
	return append(dst, `"}}]`...)
}

// isArrived reports whether frame is a hub:messageArrived event.
func (p *packets) isArrived(frame []byte) bool { return bytes.HasPrefix(frame, p.arrived) }

// parseAck splits an ack packet into its id and the JSON array of arguments.
func (p *packets) parseAck(frame []byte) (id uint64, args []byte, ok bool) {
	if !bytes.HasPrefix(frame, p.ack) {
		return 0, nil, false
	}
	rest := frame[len(p.ack):]
	i := 0
	for i < len(rest) && rest[i] >= '0' && rest[i] <= '9' {
		id = id*10 + uint64(rest[i]-'0')
		i++
	}
	if i == 0 || i == len(rest) || rest[i] != '[' {
		return 0, nil, false
	}
	return id, rest[i:], true
}

var bodyKey = []byte(`"body":"`)

// sendStamp finds the send time embedded as content.body in a delivered
// message. It reads the first "body" string made only of digits.
func sendStamp(frame []byte) (int64, bool) {
	for {
		i := bytes.Index(frame, bodyKey)
		if i < 0 {
			return 0, false
		}
		frame = frame[i+len(bodyKey):]
		var v int64
		n := 0
		for n < len(frame) && frame[n] >= '0' && frame[n] <= '9' && n < 19 {
			v = v*10 + int64(frame[n]-'0')
			n++
		}
		if n > 0 && n < len(frame) && frame[n] == '"' {
			return v, true
		}
	}
}

var (
	okTrue  = []byte(`"ok":true`)
	codeKey = []byte(`"code":"`)
)

// ackOutcome reads an ack's first argument: ok, or the error code it carries.
func ackOutcome(args []byte) (ok bool, code string) {
	if bytes.Contains(args, okTrue) {
		return true, ""
	}
	i := bytes.Index(args, codeKey)
	if i < 0 {
		return false, "UNKNOWN"
	}
	rest := args[i+len(codeKey):]
	j := bytes.IndexByte(rest, '"')
	if j < 0 {
		return false, "UNKNOWN"
	}
	return false, string(rest[:j])
}

// connectErrorMessage extracts the message of a CONNECT_ERROR payload.
func connectErrorMessage(payload []byte) string {
	var v struct {
		Message string `json:"message"`
	}
	if err := json.Unmarshal(payload, &v); err != nil || v.Message == "" {
		return string(payload)
	}
	return v.Message
}
