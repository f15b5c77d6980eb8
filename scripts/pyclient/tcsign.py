"""tradechain's request signatures, written from their specification (ARCHITECTURE.md, README,
proto/tradechain/v1/node.proto), not from its code: what any foreign client has to do.

HTTP (EPCIS REST capture, webhook subscriptions): headers x-tc-org, x-tc-key-id, x-tc-time-ms,
x-tc-signature = hex ed25519 over
  "tradechain/http-auth/v1" 0 chain_id 0 METHOD 0 path?query 0 time_ms 0 SHA-256(body)
gRPC (member reads): the same metadata, signature over
  "tradechain/grpc-auth/v1" 0 chain_id 0 /package.Service/Method 0 time_ms 0 SHA-256(request bytes)
"""
import hashlib
import time

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey


def _signed(domain: bytes, parts, digest: bytes) -> bytes:
    out = bytearray()
    for p in [domain, *parts]:
        out += p
        out += b"\0"
    out += digest
    return bytes(out)


class Signer:
    """One org's key (its 32-byte ed25519 seed, hex) and key id, on one chain."""

    def __init__(self, chain_id: str, org: str, key_id: int, seed_hex: str):
        self.chain_id = chain_id
        self.org = org
        self.key_id = key_id
        self.key = Ed25519PrivateKey.from_private_bytes(bytes.fromhex(seed_hex))

    def _headers(self, message: bytes, time_ms: int) -> dict:
        return {
            "x-tc-org": self.org,
            "x-tc-key-id": str(self.key_id),
            "x-tc-time-ms": str(time_ms),
            "x-tc-signature": self.key.sign(message).hex(),
        }

    def http(self, method: str, path_and_query: str, body: bytes = b"", time_ms: int | None = None) -> dict:
        t = int(time.time() * 1000) if time_ms is None else time_ms
        msg = _signed(
            b"tradechain/http-auth/v1",
            [self.chain_id.encode(), method.encode(), path_and_query.encode(), str(t).encode()],
            hashlib.sha256(body).digest(),
        )
        return self._headers(msg, t)

    def grpc(self, method_path: str, request_bytes: bytes, time_ms: int | None = None) -> list:
        t = int(time.time() * 1000) if time_ms is None else time_ms
        msg = _signed(
            b"tradechain/grpc-auth/v1",
            [self.chain_id.encode(), method_path.encode(), str(t).encode()],
            hashlib.sha256(request_bytes).digest(),
        )
        return list(self._headers(msg, t).items())
