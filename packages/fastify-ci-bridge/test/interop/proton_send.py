"""Sends one message with Qpid Proton (Debian's python3-qpid-proton) and prints its outcome as JSON.

usage: /usr/bin/python3 proton_send.py URL ADDRESS SPEC_JSON
SPEC_JSON: {"body": <json>, "encoding": "data" | "value-string" | "value-map",
            "message_id": str, "reply_to": str?, "subject": str?}
"""
import json
import sys

from proton import Message
from proton.utils import BlockingConnection, SendException

url, address, spec = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
text = json.dumps(spec["body"])
message = Message()
if spec["encoding"] == "data":
    message.inferred = True  # bytes body + inferred = one data section
    message.body = text.encode("utf-8")
    message.content_type = "application/json"
elif spec["encoding"] == "value-string":
    message.body = text
else:
    message.body = spec["body"]
message.id = spec["message_id"]
if spec.get("reply_to"):
    message.reply_to = spec["reply_to"]
if spec.get("subject"):
    message.subject = spec["subject"]

connection = BlockingConnection(url, timeout=15, allowed_mechs="PLAIN")
try:
    sender = connection.create_sender(address)
    try:
        sender.send(message)
        print(json.dumps({"outcome": "accepted"}))
    except SendException as error:
        print(json.dumps({"outcome": str(error.state)}))
finally:
    connection.close()
