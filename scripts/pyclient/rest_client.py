#!/usr/bin/env python3
"""An EPCIS 2.0 REST client written elsewhere (Python requests + websocket-client): capture
(requests org-signed in Python, ed25519 from `cryptography`), the capture job, queries with
pagination by the Link header, resource endpoints, a WebSocket subscription and a webhook
subscription (a tiny http.server receiver, GS1-Signature checked with Python's hmac), and the
hostile paths (unsigned capture: 401; a malformed document: 400 naming the field).

Input (stdin, JSON): {"http": "http://host:port", "chain_id", "capturer": {"org", "key_id", "seed"}}.
The node must capture for `capturer` and allow webhooks to 127.0.0.1. Output (stdout, JSON): what
it saw, for the Rust test to check against the chain. Exits 1 on the first failed check.
"""
import hashlib
import hmac
import http.server
import json
import queue
import sys
import threading
import time
import urllib.parse

import requests
import websocket

from tcsign import Signer

cfg = json.load(sys.stdin)
base = cfg["http"]
signer = Signer(cfg["chain_id"], cfg["capturer"]["org"], cfg["capturer"]["key_id"], cfg["capturer"]["seed"])
report = {}
web = requests.Session()


def check(cond, what):
    if not cond:
        print(f"FAILED: {what}", file=sys.stderr)
        print(json.dumps(report), flush=True)
        sys.exit(1)


def problem(r, status):
    check(r.status_code == status, f"{r.request.method} {r.request.path_url}: expected {status}, got {r.status_code}: {r.text}")
    check(r.headers.get("content-type") == "application/problem+json", f"problem content type: {r.headers}")
    p = r.json()
    check(p["status"] == status and p["type"].startswith("epcisException:"), f"problem body: {p}")
    return p


def signed(method, path, body=b"", headers=None):
    h = dict(headers or {})
    h.update(signer.http(method, path, body))
    return web.request(method, base + path, data=body, headers=h, timeout=30)


def document(events):
    return json.dumps({
        "@context": ["https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld"],
        "type": "EPCISDocument", "schemaVersion": "2.0", "creationDate": "2024-01-01T00:00:00Z",
        "epcisBody": {"eventList": events},
    }).encode()


def observe(serial, when, biz_step="inspecting"):
    return {"type": "ObjectEvent", "eventTime": when, "eventTimeZoneOffset": "+00:00", "action": "OBSERVE",
            "epcList": [f"urn:epc:id:sgtin:0614141.107346.{serial}"], "bizStep": biz_step}


def capture(events):
    """POST /capture (signed), then poll the job until it ends; the job."""
    body = document(events)
    r = signed("POST", "/capture", body, {"content-type": "application/ld+json"})
    check(r.status_code == 202, f"capture: {r.status_code} {r.text}")
    loc = r.headers["location"]
    check(loc.startswith("/capture/") and r.json()["captureID"] == loc.removeprefix("/capture/"), f"Location {loc}")
    for _ in range(600):
        j = signed("GET", loc)
        check(j.status_code == 200, f"GET {loc}: {j.status_code} {j.text}")
        job = j.json()
        if not job["running"]:
            return job
        time.sleep(0.05)
    check(False, f"capture job {loc} did not finish")


def walk(path):
    """Follow Link rel=next from `path`; every page's events and the number of pages."""
    events, pages, nxt = [], 0, path
    while nxt:
        r = web.get(base + nxt, timeout=30)
        check(r.status_code == 200, f"GET {nxt}: {r.status_code} {r.text}")
        check(r.headers["gs1-epcis-version"] == "2.0.0", "GS1-EPCIS-Version")
        doc = r.json()
        check(doc["type"] == "EPCISQueryDocument", f"{nxt}: type {doc['type']}")
        events += doc["epcisBody"]["queryResults"]["resultsBody"]["eventList"]
        pages += 1
        # requests parses Link: {"next": {"url": …, "rel": "next"}}
        nxt = r.links.get("next", {}).get("url")
        check(pages < 1000, "pagination ends")
    return events, pages


# Top level
top = web.get(base + "/", timeout=10).json()
check({"events", "capture", "queries"} <= set(top["member"]), f"top-level resources {top}")

# Capture three events, signed in Python.
job = capture([observe("7001", "2024-05-01T00:00:00Z"), observe("7002", "2024-05-01T00:00:01Z"),
               observe("7003", "2024-05-01T00:00:02Z", "shipping")])
check(job["success"] is True and len(job["tradechain:captured"]) == 3, f"capture job {job}")
captured_ids = [c["eventID"] for c in job["tradechain:captured"]]
report["captured"] = captured_ids

# Queries with parameters and pagination (perPage=2, following Link).
insp, pages = walk("/events?" + urllib.parse.urlencode({"EQ_bizStep": "inspecting", "perPage": 2}))
ids = [e.get("eventID") for e in insp]
check(len(ids) == len(set(ids)), "no event twice across pages")
check(captured_ids[0] in ids and captured_ids[1] in ids and captured_ids[2] not in ids, "the filter selects the inspections")
check(all(e["bizStep"] == "inspecting" for e in insp), "every event is an inspection")
report["inspecting"] = {"events": len(insp), "pages": pages}
everything, pages_all = walk("/events?perPage=7")
report["all_events"] = {"events": len(everything), "pages": pages_all}
check(len(everything) >= len(insp) + 1, "all events include the shipping one")
recent, _ = walk("/events?" + urllib.parse.urlencode({"GE_eventTime": "2024-05-01T00:00:01Z", "LT_eventTime": "2024-05-01T00:00:02Z", "MATCH_epc": "urn:epc:id:sgtin:0614141.107346.7002"}))
check([e.get("eventID") for e in recent] == [captured_ids[1]], f"a time window and an EPC: {recent}")

# Resources
types = web.get(base + "/eventTypes", timeout=10).json()
check(types["type"] == "Collection" and set(types["member"]) == {"ObjectEvent", "AggregationEvent", "TransactionEvent", "TransformationEvent", "AssociationEvent"}, f"eventTypes {types}")
steps, nxt, pages = [], "/bizSteps?perPage=10", 0
while nxt:
    r = web.get(base + nxt, timeout=10)
    steps += r.json()["member"]
    nxt = r.links.get("next", {}).get("url")
    pages += 1
check("inspecting" in steps and "shipping" in steps and pages > 1, f"bizSteps over {pages} pages")
report["bizSteps"] = len(steps)
epc = urllib.parse.quote("urn:epc:id:sgtin:0614141.107346.7001", safe="")
by_epc = web.get(base + f"/epcs/{epc}/events", timeout=10).json()["epcisBody"]["queryResults"]["resultsBody"]["eventList"]
check([e.get("eventID") for e in by_epc] == [captured_ids[0]], f"/epcs/…/events {by_epc}")

# Hostile: unsigned capture → 401; a malformed document → 400 naming the field.
p = problem(web.post(base + "/capture", data=document([observe("7100", "2024-05-02T00:00:00Z")]),
                      headers={"content-type": "application/ld+json"}, timeout=10), 401)
check("x-tc-org" in p["detail"], f"401 names the header: {p}")
p = problem(signed("POST", "/capture", document([observe("7101", "2005-04-04 20:33")]), {"content-type": "application/ld+json"}), 400)
check("eventTime" in p["detail"] and p["type"] == "epcisException:ValidationException", f"400 names the field: {p}")
p = problem(web.get(base + "/events?EQ_bizStep=inspecting&perPage=zero", timeout=10), 400)
check(p.get("parameter") == "perPage", f"400 names the parameter: {p}")
report["hostile"] = "ok"

# A named query, a WebSocket subscription (new events only) and a webhook on it.
r = web.post(base + "/queries", json={"name": "py-inspections", "query": {"EQ_bizStep": ["inspecting"]}}, timeout=10)
check(r.status_code == 201, f"POST /queries {r.status_code} {r.text}")
ws = websocket.create_connection(base.replace("http://", "ws://") + "/queries/py-inspections/subscriptions?stream=true", timeout=20)

received = queue.Queue()
token = "py-webhook-secret"


class Receiver(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers["content-length"]))
        received.put((self.path, dict(self.headers), body))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args):
        pass


server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
threading.Thread(target=server.serve_forever, daemon=True).start()
sub_path = "/queries/py-inspections/subscriptions"
dest = f"http://127.0.0.1:{server.server_address[1]}/hook"
body = json.dumps({"dest": dest, "signatureToken": token, "stream": True}).encode()
p = problem(web.post(base + sub_path, data=body, headers={"content-type": "application/json"}, timeout=10), 401)
p = problem(signed("POST", sub_path, json.dumps({"dest": "ftp://127.0.0.1/x", "stream": True}).encode(), {"content-type": "application/json"}), 400)
check(p.get("parameter") == "dest", f"a bad scheme names dest: {p}")
r = signed("POST", sub_path, body, {"content-type": "application/json"})
check(r.status_code == 201, f"webhook: {r.status_code} {r.text}")
hook = r.json()
check("signatureToken" not in r.text and hook["dest"] == dest and r.headers["location"].endswith(hook["subscriptionID"]), f"webhook answer {hook}")

job = capture([observe("7200", "2024-05-03T00:00:00Z"), observe("7201", "2024-05-03T00:00:01Z", "shipping")])
check(job["success"] is True, f"capture {job}")
new_id = job["tradechain:captured"][0]["eventID"]

msg = json.loads(ws.recv())
results = msg["epcisBody"]["queryResults"]
check(results["queryName"] == "py-inspections" and results["tradechain:resumeToken"], f"ws message {results}")
check([e["eventID"] for e in results["resultsBody"]["eventList"]] == [new_id], f"ws events {results}")
ws.settimeout(0.5)
try:
    extra = ws.recv()
    check(False, f"a second WebSocket message: {extra[:200]}")
except websocket.WebSocketTimeoutException:
    pass
ws.close()
report["websocket"] = {"eventID": new_id}

path, headers, raw = received.get(timeout=20)
headers = {k.lower(): v for k, v in headers.items()}
check(path == "/hook", f"webhook path {path}")
expect = "sha256=" + hmac.new(token.encode(), raw, hashlib.sha256).hexdigest()
check(headers.get("gs1-signature") == expect, f"GS1-Signature {headers.get('gs1-signature')} != {expect}")
doc = json.loads(raw)
check(doc["type"] == "EPCISQueryDocument", "webhook body type")
check([e["eventID"] for e in doc["epcisBody"]["queryResults"]["resultsBody"]["eventList"]] == [new_id], f"webhook events {doc}")
check(received.empty(), "one delivery")
loc = r.headers["location"]
d = signed("DELETE", loc)
check(d.status_code == 204, f"DELETE {loc}: {d.status_code} {d.text}")
report["webhook"] = {"eventID": new_id, "signature": "ok"}
server.shutdown()

print(json.dumps(report), flush=True)
