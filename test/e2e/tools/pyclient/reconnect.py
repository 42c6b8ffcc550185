"""A python-socketio client for the shutdown tests.

Connects to a hub namespace with reconnection on, joins a room after every
(re)connection, and prints one JSON line per event on stdout:
  {"event": "connect", "n": 1}
  {"event": "join", "n": 1, "ok": true}
  {"event": "disconnect", "n": 1}
It exits when stdin closes.

  reconnect.py URL NAMESPACE TOKEN ROOM TRANSPORT
"""

import json
import queue
import sys
import threading

import socketio


def say(**fields):
    print(json.dumps(fields), flush=True)


def main():
    url, nsp, token, room, transport = sys.argv[1:6]
    events = queue.Queue()
    sio = socketio.Client(reconnection=True, reconnection_delay=0.1, reconnection_delay_max=0.5)
    count = {"connect": 0}

    @sio.on("connect", namespace=nsp)
    def on_connect():
        count["connect"] += 1
        say(event="connect", n=count["connect"])
        events.put("connect")

    @sio.on("disconnect", namespace=nsp)
    def on_disconnect():
        say(event="disconnect", n=count["connect"])

    def wait_stdin():
        sys.stdin.read()
        events.put("quit")

    threading.Thread(target=wait_stdin, daemon=True).start()
    sio.connect(url, namespaces=[nsp], transports=[transport], auth={"token": token}, wait_timeout=10)
    while True:
        ev = events.get()
        if ev == "quit":
            break
        # Calls wait for their ack: never from an event handler.
        try:
            ack = sio.call("hub:join", {"roomId": room}, namespace=nsp, timeout=10)
            say(event="join", n=count["connect"], ok=bool(ack and ack.get("ok")), ack=ack)
        except Exception as err:  # noqa: BLE001 - reported to the test
            say(event="join", n=count["connect"], ok=False, error=str(err))
    sio.disconnect()


if __name__ == "__main__":
    main()
