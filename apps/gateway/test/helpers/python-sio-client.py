"""An independent Socket.IO client for the gateway's tests: Debian's python-socketio 5.

Usage: python-sio-client.py URL TOKEN TRANSPORTS. Prints one JSON object per line (connected, events,
acks, connect errors, disconnects); reads commands, one JSON object per line, on stdin:
{"op": "emit", "event": ..., "data": ...} (with an ack: prints {"ack": ...}) or {"op": "disconnect"}.
"""
import json
import sys

import socketio

url, token, transports = sys.argv[1], sys.argv[2], sys.argv[3].split(',')
sio = socketio.Client(reconnection=False)


def out(obj):
    print(json.dumps(obj), flush=True)


@sio.on('*')
def any_event(event, *args):
    out({'event': event, 'args': list(args)})


@sio.event
def connect():
    out({'connected': sio.get_sid()})


@sio.event
def connect_error(data):
    out({'connect_error': data})


@sio.event
def disconnect():
    out({'disconnected': True})


try:
    sio.connect(url, socketio_path='socket.io', transports=transports,
                auth={'token': token} if token else None, wait_timeout=5)
except socketio.exceptions.ConnectionError as err:
    out({'failed': str(err)})
    sys.exit(0)

for line in sys.stdin:
    command = json.loads(line)
    if command['op'] == 'emit':
        out({'ack': sio.call(command['event'], command.get('data'), timeout=5)})
    elif command['op'] == 'disconnect':
        sio.disconnect()
        break
