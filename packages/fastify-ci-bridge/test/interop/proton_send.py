"""Sends one message with Qpid Proton (Debian's python3-qpid-proton) and prints its outcome as JSON.

usage: /usr/bin/python3 proton_send.py URL ADDRESS SPEC_JSON
SPEC_JSON: {"body": <json>, "encoding": "data" | "value-string" | "value-map",
            "message_id": str, "id_type": "string" | "ulong" | "uuid" | "binary" (default string),
            "reply_to": str?, "subject": str?, "application_properties": {str: str}?}
message_id by id_type: the text itself; a decimal integer; a canonical uuid; hex bytes.
"""
import json
import sys
import uuid

from proton import Message, ulong
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
id_type = spec.get("id_type", "string")
if id_type == "ulong":
    message.id = ulong(int(spec["message_id"]))
elif id_type == "uuid":
    message.id = uuid.UUID(spec["message_id"])
elif id_type == "binary":
    message.id = bytes.fromhex(spec["message_id"])
else:
    message.id = spec["message_id"]
if spec.get("application_properties"):
    message.properties = spec["application_properties"]
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
