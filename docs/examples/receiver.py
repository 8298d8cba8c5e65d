#!/usr/bin/env python3
"""receiver.py PORT SECRET_FILE: a webhook receiver for the step-by-step
example of docs/API.md. It prints every delivery's signature headers, checks
the signature (HMAC-SHA256 of "<Webhook-Timestamp>.<raw body>" keyed with the
secret, less its final newline, as chatd reads it) and the timestamp (at most
5 minutes off), drops an event id it has seen, and prints the event. It
answers 204 to a delivery it accepts, 400 otherwise (chatd then retries).
"""
import hashlib
import hmac
import http.server
import json
import sys
import time

PORT = int(sys.argv[1])
with open(sys.argv[2], "rb") as f:
    SECRET = f.read().rstrip(b"\n")
TOLERANCE_S = 300
sys.stdout.reconfigure(line_buffering=True)  # each line at once, also into a file
seen = set()  # event ids handled (a real receiver keeps them in its database)


class Receiver(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        ts = self.headers.get("Webhook-Timestamp", "0")
        got = self.headers.get("Webhook-Signature", "")
        # the signature over the bytes received, before any JSON parsing
        want = "v1=" + hmac.new(SECRET, ts.encode() + b"." + body, hashlib.sha256).hexdigest()
        fresh = abs(time.time() - int(ts)) <= TOLERANCE_S
        good = hmac.compare_digest(want, got) and fresh
        print(f"Webhook-Id: {self.headers.get('Webhook-Id')}")
        print(f"Webhook-Timestamp: {ts}")
        print(f"Webhook-Signature: {got}")
        print(f"signature {'ok' if good else 'REFUSED'} (expected {want})")
        if not good:
            self.send_response(400)
            self.end_headers()
            return
        event = json.loads(body)
        if event["id"] not in seen:
            seen.add(event["id"])
            print(event["type"], json.dumps(event["data"]))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args):
        pass


http.server.HTTPServer(("127.0.0.1", PORT), Receiver).serve_forever()
