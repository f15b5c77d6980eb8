#!/usr/bin/env python3
"""A gRPC client written elsewhere (Python grpcio + grpcio-reflection) that knows nothing of
tradechain's .proto files: it lists the node's services by server reflection, builds every
message class from the reflected FileDescriptorProtos (google.protobuf descriptor_pool +
message_factory), calls a method of every service with a valid request and checks the answers,
and checks the status codes of malformed requests.

Input (stdin, JSON): {"grpc": "host:port", "chain_id", "height", "item_urn", "item_key", "tx_id",
"waybill": {"carrier", "reference"}, "reader": {"org", "key_id", "seed"}}.
Output (stdout, JSON): what it found (services, each call's outcome), for the Rust test to check.
Exits 1 on the first failed check, naming it.
"""
import json
import os
import sys

import grpc
from google.protobuf import descriptor_pool
from google.protobuf.json_format import MessageToDict

from reflection_fallback import message_class
from tcsign import Signer

cfg = json.load(sys.stdin)
channel = grpc.insecure_channel(cfg["grpc"])
grpc.channel_ready_future(channel).result(timeout=10)
try:
    if os.environ.get("TC_PY_NO_GRPC_REFLECTION") == "1":
        raise ImportError("told to do without grpcio-reflection")
    from grpc_reflection.v1alpha.proto_reflection_descriptor_database import ProtoReflectionDescriptorDatabase

    db = ProtoReflectionDescriptorDatabase(channel)
    pool = descriptor_pool.DescriptorPool(db)
    services, how = sorted(db.get_services()), "grpcio-reflection"
except ImportError as e:
    # Debian packages no grpcio-reflection: the same protocol, with message classes of our own.
    print(f"no grpcio-reflection ({e}): reflecting with reflection_fallback", file=sys.stderr)
    from reflection_fallback import reflect

    services, pool = reflect(channel)
    how = "fallback"
report = {"services": services, "reflection": how, "calls": {}}


def check(cond, what):
    if not cond:
        print(f"FAILED: {what}", file=sys.stderr)
        print(json.dumps(report), flush=True)
        sys.exit(1)


def method(full):
    """(descriptor, request class, response class) of "pkg.Service/Method", from reflection only."""
    service, name = full.split("/")
    m = pool.FindServiceByName(service).methods_by_name[name]
    return m, message_class(m.input_type), message_class(m.output_type)


def unary(full, fields, metadata=None, sign=None):
    m, req_cls, resp_cls = method(full)
    req = req_cls(**fields)
    path = f"/{full}"
    if sign is not None:
        metadata = (metadata or []) + sign.grpc(path, req.SerializeToString())
    call = channel.unary_unary(path, request_serializer=req_cls.SerializeToString, response_deserializer=resp_cls.FromString)
    return call(req, metadata=metadata, timeout=10)


def expect_error(full, request, code, naming, raw=False, sign=None):
    """Call with a malformed request (a message, or raw bytes); the status must be `code` and its
    message must name `naming`."""
    m, req_cls, resp_cls = method(full)
    path = f"/{full}"
    ser = (lambda b: b) if raw else req_cls.SerializeToString
    md = sign.grpc(path, request if raw else request.SerializeToString()) if sign else None
    try:
        channel.unary_unary(path, request_serializer=ser, response_deserializer=resp_cls.FromString)(
            request, metadata=md, timeout=10
        )
    except grpc.RpcError as e:
        got = (e.code().name, e.details())
        report["calls"].setdefault("errors", []).append({"method": full, "code": got[0], "details": got[1]})
        check(e.code() == code, f"{full}: expected {code.name}, got {got}")
        check(naming in (e.details() or ""), f"{full}: the message {e.details()!r} does not name {naming!r}")
        return
    check(False, f"{full}: a malformed request was answered")


reader = Signer(cfg["chain_id"], cfg["reader"]["org"], cfg["reader"]["key_id"], cfg["reader"]["seed"])
print(f"services by reflection: {report['services']}", file=sys.stderr)

# NodeService
st = unary("tradechain.v1.NodeService/GetStatus", {})
check(st.chain_id == cfg["chain_id"], f"GetStatus chain_id {st.chain_id!r}")
check(st.height >= cfg["height"], f"GetStatus height {st.height} < {cfg['height']}")
check(len(st.head_hash) == 64, "GetStatus head_hash is 32 bytes of hex")
report["calls"]["NodeService/GetStatus"] = {"chain_id": st.chain_id, "height": st.height}
acct = unary("tradechain.v1.NodeService/GetAccount", {"org": cfg["reader"]["org"]})
check(acct.org == cfg["reader"]["org"] and cfg["reader"]["key_id"] in list(acct.key_ids), f"GetAccount {acct}")

# ProvenanceService: a known item, by EPC URN
p = unary("tradechain.v1.ProvenanceService/GetProvenance", {"epc_urn": cfg["item_urn"]})
check(p.goods_key == cfg["item_key"], f"GetProvenance goods_key {p.goods_key!r}")
check(p.chain_id == cfg["chain_id"], "GetProvenance chain_id")
check(len(p.timeline) > 0, "GetProvenance has a timeline")
report["calls"]["ProvenanceService/GetProvenance"] = {"goods_key": p.goods_key, "timeline": len(p.timeline)}

# TransactionService: a committed transaction
t = unary("tradechain.v1.TransactionService/GetTransaction", {"tx_id": cfg["tx_id"]})
committed = t.DESCRIPTOR.fields_by_name["state"].enum_type.values_by_name["STATE_COMMITTED"].number
check(t.state == committed, f"GetTransaction state {t.state}")
check(t.tx_id == cfg["tx_id"], "GetTransaction tx_id")
report["calls"]["TransactionService/GetTransaction"] = {"state": t.state, "height": t.location.height}

# ChainService: the first header
h = unary("tradechain.v1.ChainService/GetHeader", {"height": 1})
check(h.header.height == 1 and len(h.header.block_hash) == 64, f"GetHeader {h.header}")
report["calls"]["ChainService/GetHeader"] = {"height": h.header.height, "block_hash": h.header.block_hash}

# DocumentService: a member read, signed in Python (x-tc-* metadata)
_, req_cls, _ = method("tradechain.v1.DocumentService/GetWaybill")
wb_id = {"id": cfg["waybill"]}
w = unary("tradechain.v1.DocumentService/GetWaybill", wb_id, sign=reader)
check(w.id.reference == cfg["waybill"]["reference"] and w.issuer == cfg["waybill"]["carrier"], f"GetWaybill {w}")
report["calls"]["DocumentService/GetWaybill"] = {"reference": w.id.reference, "holder": w.holder, "status": w.status}
# ... and unsigned: UNAUTHENTICATED naming the metadata
expect_error("tradechain.v1.DocumentService/GetWaybill", req_cls(**wb_id), grpc.StatusCode.UNAUTHENTICATED, "x-tc-org")
# ... and signed for other arguments than sent: the signature does not verify
forged = Signer(cfg["chain_id"], cfg["reader"]["org"], cfg["reader"]["key_id"], cfg["reader"]["seed"])
m, _, resp_cls = method("tradechain.v1.DocumentService/GetWaybill")
md = forged.grpc("/tradechain.v1.DocumentService/GetWaybill", req_cls(id={"carrier": "X", "reference": "Y"}).SerializeToString())
try:
    channel.unary_unary("/tradechain.v1.DocumentService/GetWaybill", request_serializer=req_cls.SerializeToString,
                        response_deserializer=resp_cls.FromString)(req_cls(**wb_id), metadata=md, timeout=10)
    check(False, "a signature over other arguments was accepted")
except grpc.RpcError as e:
    check(e.code() == grpc.StatusCode.UNAUTHENTICATED and "x-tc-signature" in e.details(), f"forged: {e.code()} {e.details()}")

# EpcisService: the item's public events as an EPCIS document
x = unary("tradechain.v1.EpcisService/ExportEpcis", {"identifier": cfg["item_urn"]})
doc = json.loads(x.document)
check(doc["type"] == "EPCISDocument", "ExportEpcis type")
events = doc["epcisBody"]["eventList"]
check(x.event_count == len(events) > 0, f"ExportEpcis event_count {x.event_count} vs {len(events)}")
report["calls"]["EpcisService/ExportEpcis"] = {"event_count": x.event_count, "goods_key": x.goods_key}

# grpc.health.v1.Health: every tradechain service SERVING; an unknown one NOT_FOUND
serving = {}
for s in report["services"]:
    if s.startswith("tradechain."):
        r = unary("grpc.health.v1.Health/Check", {"service": s})
        serving[s] = MessageToDict(r)["status"]
        check(serving[s] == "SERVING", f"health of {s}: {serving[s]}")
report["calls"]["grpc.health.v1.Health/Check"] = serving
_, hreq, _ = method("grpc.health.v1.Health/Check")
expect_error("grpc.health.v1.Health/Check", hreq(service="no.such.Service"), grpc.StatusCode.NOT_FOUND, "")

# grpc.reflection.v1.ServerReflection: the v1alpha listing above does not name it (each
# version lists only itself), but the node serves both. The v1 protocol's messages are the v1alpha
# ones on the wire, so the classes reflection served for v1alpha call v1: a bidi stream.
m, rreq, rresp = method("grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo")
stream = channel.stream_stream("/grpc.reflection.v1.ServerReflection/ServerReflectionInfo",
                               request_serializer=rreq.SerializeToString, response_deserializer=rresp.FromString)
replies = list(stream(iter([rreq(list_services="")]), timeout=10))
v1_names = sorted(s.name for s in replies[0].list_services_response.service)
check("grpc.reflection.v1.ServerReflection" in v1_names, f"v1 lists itself: {v1_names}")
# Each protocol version lists itself, not the other (tonic-reflection); the rest is the same.
check(set(v1_names) - {"grpc.reflection.v1.ServerReflection"}
      == set(report["services"]) - {"grpc.reflection.v1alpha.ServerReflection"},
      f"v1 and v1alpha list different services: {v1_names}")
report["services"] = sorted(set(v1_names) | set(report["services"]))
report["calls"]["grpc.reflection.v1.ServerReflection/ServerReflectionInfo"] = {"services": len(v1_names)}

# Every listed service was called.
called = {k.split("/")[0] for k in report["calls"] if "/" in k}
called = {c if "." in c else f"tradechain.v1.{c}" for c in called} | {"grpc.reflection.v1alpha.ServerReflection"}
missing = [s for s in report["services"] if s not in called]
check(not missing, f"services not called: {missing}")

# Malformed requests: the specific status and a message naming the field.
_, treq, _ = method("tradechain.v1.TransactionService/GetTransaction")
expect_error("tradechain.v1.TransactionService/GetTransaction", treq(tx_id="not-hex"), grpc.StatusCode.INVALID_ARGUMENT, "tx_id")
_, sreq, _ = method("tradechain.v1.TransactionService/Submit")
expect_error("tradechain.v1.TransactionService/Submit", sreq(signed_tx=b"\x01garbage"), grpc.StatusCode.INVALID_ARGUMENT, "signed_tx")
# Bytes that are not a protobuf message at all (field 1, wire type 7: invalid): tonic's codec
# answers INTERNAL ("failed to decode Protobuf message"), before any tradechain code runs.
expect_error("tradechain.v1.NodeService/GetStatus", b"\x0f\xff\xff", grpc.StatusCode.INTERNAL, "decode", raw=True)

print(json.dumps(report), flush=True)
