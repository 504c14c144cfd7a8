"""Receives COUNT messages with Qpid Proton, accepts them, and prints each as one JSON line.

usage: /usr/bin/python3 proton_receive.py URL ADDRESS COUNT
"""
import json
import sys
import uuid

from proton.utils import BlockingConnection

url, address, count = sys.argv[1], sys.argv[2], int(sys.argv[3])


def text(value):
    if value is None:
        return None
    return str(value)


def typed_id(value):
    """An id as [AMQP type, text]: a ulong in decimal, a uuid canonical, binary in hex."""
    if value is None:
        return None
    if isinstance(value, uuid.UUID):
        return ["uuid", str(value)]
    if isinstance(value, (bytes, bytearray, memoryview)):
        return ["binary", bytes(value).hex()]
    # Proton's message-id API (pn_msgid_t) holds only the four AMQP id types: an int there is a ulong.
    if isinstance(value, int):
        return ["ulong", str(value)]
    if isinstance(value, str):
        return ["string", value]
    return ["unexpected:" + type(value).__name__, str(value)]


connection = BlockingConnection(url, timeout=15, allowed_mechs="PLAIN")
try:
    receiver = connection.create_receiver(address, credit=count)
    for _ in range(count):
        message = receiver.receive(timeout=15)
        body = message.body
        if isinstance(body, (bytes, bytearray, memoryview)):
            body = {"bytes": bytes(body).decode("utf-8")}
        print(
            json.dumps(
                {
                    "body": body,
                    "inferred": message.inferred,
                    "content_type": text(message.content_type),
                    "subject": text(message.subject),
                    "id": text(message.id),
                    "correlation_id": text(message.correlation_id),
                    "typed_correlation_id": typed_id(message.correlation_id),
                    "application_properties": message.properties,
                    "reply_to": text(message.reply_to),
                    "durable": message.durable,
                }
            ),
            flush=True,
        )
        receiver.accept()
finally:
    connection.close()
