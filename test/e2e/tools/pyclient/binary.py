"""A python-socketio client sending binary inside hub:send content and
hub:event data, for the rules tests.

Connects to a hub namespace, joins ROOM, sends a text message whose body is
bytes and a custom event EVENT whose data holds bytes in a list, and prints
one JSON line with both acks:
  {"join": {...}, "send": {...}, "event": {...}}

  binary.py URL NAMESPACE TOKEN ROOM TRANSPORT EVENT
"""

import json
import sys

import socketio


def main():
    url, nsp, token, room, transport, event = sys.argv[1:7]
    sio = socketio.Client(reconnection=False)
    sio.connect(url, namespaces=[nsp], transports=[transport], auth={"token": token}, wait_timeout=10)
    out = {"join": sio.call("hub:join", {"roomId": room}, namespace=nsp, timeout=10)}
    out["send"] = sio.call(
        "hub:send",
        {"roomId": room, "messageType": "text", "content": {"body": b"binary"}},
        namespace=nsp,
        timeout=10,
    )
    out["event"] = sio.call(
        "hub:event",
        {"roomId": room, "event": event, "data": {"files": [b"\x01\x02\x03"]}},
        namespace=nsp,
        timeout=10,
    )
    print(json.dumps(out), flush=True)
    sio.disconnect()


if __name__ == "__main__":
    main()
