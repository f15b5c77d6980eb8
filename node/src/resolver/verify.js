// tradechain: the consumer page checks its own proofs (served by node::resolver; its module doc
// says exactly what is and is not proven). Plain JavaScript, no library, no build step: WebCrypto
// Ed25519 and SHA-256 over the borsh bytes the node stores, against the validator set of the
// genesis embedded in the page. It mirrors node/src/grpc/proof.rs; byte layouts follow the ledger
// (borsh: little-endian integers, u32 lengths for strings and vectors, a u8 tag for Option/enums).
"use strict";
(() => {
  const te = new TextEncoder();
  const td = new TextDecoder("utf-8", { fatal: true });
  const $ = (id) => document.getElementById(id);

  // ---- bytes ----
  function fromHex(h, what) {
    if (typeof h !== "string" || h.length % 2 !== 0 || !/^[0-9a-f]*$/i.test(h)) {
      throw new Error(`${what} is not hex`);
    }
    const b = new Uint8Array(h.length / 2);
    for (let i = 0; i < b.length; i++) b[i] = parseInt(h.substr(2 * i, 2), 16);
    return b;
  }
  const toHex = (b) => Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
  function concat(...parts) {
    const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
    let o = 0;
    for (const p of parts) { out.set(p, o); o += p.length; }
    return out;
  }
  const eq = (a, b) => a.length === b.length && a.every((x, i) => x === b[i]);
  const cmp = (a, b) => { for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return a[i] - b[i]; return 0; };
  function u32(n) { const b = new Uint8Array(4); new DataView(b.buffer).setUint32(0, n, true); return b; }
  function u64(n) { const b = new Uint8Array(8); new DataView(b.buffer).setBigUint64(0, BigInt(n), true); return b; }
  const str = (s) => { const b = te.encode(s); return concat(u32(b.length), b); };

  // A borsh reader: every read is bounds-checked and names what it was reading.
  class Reader {
    constructor(bytes, what) {
      this.b = bytes; this.p = 0; this.what = what;
      this.dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    }
    need(n) { if (this.p + n > this.b.length) throw new Error(`${this.what}: truncated at byte ${this.p}`); }
    u8() { this.need(1); return this.b[this.p++]; }
    u16() { this.need(2); const v = this.dv.getUint16(this.p, true); this.p += 2; return v; }
    i16() { this.need(2); const v = this.dv.getInt16(this.p, true); this.p += 2; return v; }
    u32() { this.need(4); const v = this.dv.getUint32(this.p, true); this.p += 4; return v; }
    u64() { this.need(8); const v = this.dv.getBigUint64(this.p, true); this.p += 8; return v; }
    i64() { this.need(8); const v = this.dv.getBigInt64(this.p, true); this.p += 8; return v; }
    bytes(n) { this.need(n); const v = this.b.subarray(this.p, this.p + n); this.p += n; return v; }
    str() {
      const n = this.u32();
      try { return td.decode(this.bytes(n)); } catch (e) { throw new Error(`${this.what}: a string is not UTF-8`); }
    }
    opt(f) {
      const t = this.u8();
      if (t === 0) return null;
      if (t === 1) return f();
      throw new Error(`${this.what}: bad Option tag ${t} at byte ${this.p - 1}`);
    }
    vec(f) {
      const n = this.u32();
      if (n > this.b.length - this.p) throw new Error(`${this.what}: vector length ${n} beyond the data`);
      const a = [];
      for (let i = 0; i < n; i++) a.push(f());
      return a;
    }
    tag(names, of) {
      const t = this.u8();
      if (t >= names.length) throw new Error(`${this.what}: unknown ${of} ${t}`);
      return names[t];
    }
    end() { if (this.p !== this.b.length) throw new Error(`${this.what}: ${this.b.length - this.p} trailing bytes`); }
  }

  // ---- hashes (ledger/src/hash.rs, merkle.rs) ----
  const sha256 = async (...parts) => new Uint8Array(await crypto.subtle.digest("SHA-256", concat(...parts)));
  const tagged = (tag, ...parts) => sha256(te.encode(tag), new Uint8Array([0]), ...parts);
  const ZERO = new Uint8Array(32);

  // ---- state proofs (ledger/src/state_tree.rs, a port of `StateProof::verify`) ----
  const PLACEHOLDER = te.encode("SPARSE_MERKLE_PLACEHOLDER_HASH__");
  const JMT_LEAF = te.encode("JMT::LeafNode");
  const JMT_INTERNAL = te.encode("JMT::IntrnalNode");
  function decodeStateProof(bytes) {
    const r = new Reader(bytes, "state proof");
    const p = { leaf: r.opt(() => ({ keyHash: r.bytes(32), valueHash: r.bytes(32) })), siblings: r.vec(() => r.bytes(32)) };
    r.end();
    if (p.siblings.length > 256) throw new Error(`state proof has ${p.siblings.length} siblings (at most 256)`);
    return p;
  }
  // Bit i of a key hash, most significant bit of byte 0 first.
  const bit = (h, i) => ((h[i >> 3] >> (7 - (i & 7))) & 1) === 1;
  // `key` holds `value` under `root` (inclusion only: the page proves values that exist).
  async function stateProofHolds(p, root, key, value) {
    if (!p.leaf) return "the proof shows the key absent";
    const kh = await sha256(key);
    if (!eq(p.leaf.keyHash, kh)) return "the proof's leaf is another key";
    if (!eq(p.leaf.valueHash, await sha256(await sha256(value)))) return "the proof's leaf holds another value";
    let cur = await sha256(JMT_LEAF, p.leaf.keyHash, p.leaf.valueHash);
    const n = p.siblings.length;
    for (let i = 0; i < n; i++) {
      const s = p.siblings[i];
      cur = bit(kh, n - 1 - i) ? await sha256(JMT_INTERNAL, s, cur) : await sha256(JMT_INTERNAL, cur, s);
    }
    return eq(cur, root) ? null : "the path does not hash to the block's state root";
  }
  // `state::key`: the namespace byte, then each part as a u16 big-endian length and its bytes.
  function stateKey(ns, ...parts) {
    const out = [new Uint8Array([ns])];
    for (const p of parts) {
      const b = typeof p === "string" ? te.encode(p) : p;
      if (b.length >= 0xffff) throw new Error("state key part too long");
      out.push(new Uint8Array([b.length >> 8, b.length & 0xff]), b);
    }
    return concat(...out);
  }
  // `state::keys::item_head` (namespace Item = 5), `certificate_head` (Certificate = 4) and
  // `waybill_head` (Waybill = 3).
  const itemHeadKey = (goodsKey) => stateKey(5, "head", goodsKey);
  const certificateHeadKey = (issuer, number) => stateKey(4, "head", issuer, number);
  const waybillHeadKey = (carrier, reference) => stateKey(3, "head", carrier, reference);

  // ---- ledger types ----
  const ROLES = ["customs", "port", "carrier", "bank", "producer", "chamber", "regulator"];
  const EVENT_TYPES = ["ObjectEvent", "AggregationEvent", "TransformationEvent", "TransactionEvent", "AssociationEvent"];
  const ACTIONS = ["ADD", "OBSERVE", "DELETE"];
  const OUTCOMES = ["passed", "failed", "passed_with_remarks"];
  // `payload::TransportMode` and `payload::WaybillStatus`, as `views::enum_name` names them.
  const MODES = ["sea", "rail", "air", "road"];
  const WAYBILL_STATUS = ["ISSUED", "SURRENDERED_FOR_DELIVERY", "SURRENDERED_FOR_AMENDMENT", "ACCOMPLISHED", "VOID"];
  // `grpc::provenance::MAX_CONTAINER_DEPTH`.
  const MAX_CONTAINER_DEPTH = 4;

  // ledger/src/genesis.rs `Genesis` up to its validators (the rest is hashed, not read).
  function decodeGenesis(bytes) {
    const r = new Reader(bytes, "genesis");
    const chainId = r.str();
    r.i64();
    const orgs = new Map();
    r.vec(() => {
      const id = r.str(), name = r.str(), country = r.str();
      const roles = r.vec(() => r.tag(ROLES, "role"));
      r.vec(() => { r.u32(); r.bytes(32); });
      r.vec(() => r.bytes(32));
      r.u8();
      orgs.set(id, { name, country, roles });
    });
    const validators = r.vec(() => ({ org: r.str(), pk: r.bytes(32), power: r.u64() }));
    return { chainId, orgs, validators };
  }
  function decodeHeader(bytes) {
    const r = new Reader(bytes, "block header");
    const h = {
      version: r.u16(), chainId: r.str(), height: r.u64(), prevHash: r.bytes(32), txRoot: r.bytes(32),
      txCount: r.u32(), resultsHash: r.bytes(32), timeMs: r.i64(), proposer: r.bytes(32),
      validatorsHash: r.bytes(32), stateHash: r.bytes(32),
    };
    r.end();
    return h;
  }
  function decodeCertificate(bytes) {
    const r = new Reader(bytes, "commit certificate");
    const c = {
      height: r.u64(), round: r.u32(), blockHash: r.bytes(32),
      sigs: r.vec(() => ({ pk: r.bytes(32), sig: r.bytes(64) })),
    };
    r.end();
    return c;
  }
  function decodeInclusion(bytes) {
    const r = new Reader(bytes, "inclusion proof");
    const p = { index: r.u64(), treeSize: r.u64(), path: r.vec(() => r.bytes(32)) };
    r.end();
    return p;
  }
  function decodeEventRef(bytes) {
    const r = new Reader(bytes, "event reference");
    const e = {
      seq: r.u64(), txId: r.bytes(32), height: r.u64(), index: r.u32(), event: r.u32(), timeMs: r.i64(),
      prev: r.bytes(32), hash: r.bytes(32),
    };
    r.end();
    return e;
  }
  // ledger/src/records.rs `ItemHead`, every field in order.
  const CUSTOMS = ["None", "Declared", "Held", "Released"];
  function decodeItemHead(bytes) {
    const r = new Reader(bytes, "item head");
    const bool = () => { const b = r.u8(); if (b > 1) throw new Error("item head: bad bool"); return b === 1; };
    const h = {
      goodsKey: r.str(), eventCount: r.u64(), lastHash: r.bytes(32), lastTimeMs: r.i64(),
      commissioned: bool(), ended: bool(), customs: r.tag(CUSTOMS, "customs status"),
      inspected: r.opt(() => r.tag(OUTCOMES, "inspection outcome")), parent: r.opt(() => r.str()),
      certificate: r.opt(() => ({ issuer: r.str(), number: r.str() })),
      waybill: r.opt(() => ({ carrier: r.str(), reference: r.str() })),
    };
    r.end();
    return h;
  }
  // ledger/src/records.rs `CertificateHead`.
  function decodeCertificateHead(bytes) {
    const r = new Reader(bytes, "certificate head");
    const c = {
      issuer: r.str(), number: r.str(), origin: r.str(), destination: r.str(), criterion: r.str(),
      preferential: (() => { const b = r.u8(); if (b > 1) throw new Error("certificate head: bad bool"); return b === 1; })(),
      revoked: r.opt(() => r.str()),
    };
    r.end();
    return c;
  }
  // ledger/src/records.rs `WaybillHead`, every field in order.
  function decodeWaybillHead(bytes) {
    const r = new Reader(bytes, "waybill head");
    const w = {
      carrier: r.str(), reference: r.str(), mode: r.tag(MODES, "transport mode"),
      placeOfReceipt: r.str(), portOfLoading: r.str(), portOfDischarge: r.str(), placeOfDelivery: r.str(),
      vehicle: r.str(), voyage: r.str(), status: r.tag(WAYBILL_STATUS, "waybill status"),
    };
    r.end();
    return w;
  }
  // The route a reply shows (`grpc::provenance::waybill_route`) as the page's data names it
  // (`grpc::journey`): from the item's waybill reference and the waybill's proven head.
  const waybillRoute = (ref, w) => ({
    carrier: ref.carrier, reference: ref.reference, mode: w.mode, from: w.portOfLoading, to: w.portOfDischarge,
    vehicle: w.vehicle, place_of_receipt: w.placeOfReceipt, place_of_delivery: w.placeOfDelivery,
    voyage: w.voyage, status: w.status,
  });
  // ---- selective disclosure (ledger/src/event_fields.rs, tx.rs) ----
  // `event_fields::UNITS`: (name, public), in commitment order.
  const UNITS = [["type", true], ["eventID", true], ["eventTime", true], ["action", true], ["goods", true],
    ["bizStep", true], ["disposition", true], ["readPoint", true], ["bizLocation", true], ["unlocode", true],
    ["customsStep", true], ["errorDeclaration", true], ["bizTransactions", false], ["sources", false],
    ["destinations", false], ["customsDetails", false], ["errorReason", false]];
  const MAX_UNITS = 4096;
  // borsh(EventDisclosure): TxHeader (version, chain id, sender, key id, nonce, time), the
  // EventOpening's units (0: Open { name, value, salt }, 1: Withheld(leaf)), the signature, and
  // for event i of a document transaction its position (i, every event's field digest).
  const MAX_DOCUMENT_EVENTS = 65536;
  function decodeDisclosure(bytes) {
    const r = new Reader(bytes, "disclosure");
    r.u16();
    const chainId = r.str(), sender = r.str();
    r.u32(); r.u64(); r.i64();
    const headerBytes = bytes.subarray(0, r.p);
    const units = r.vec(() => {
      const t = r.u8();
      if (t === 0) { const name = r.str(); const value = r.bytes(r.u32()); return { name, value, salt: r.bytes(32) }; }
      if (t === 1) return { leaf: r.bytes(32) };
      throw new Error(`disclosure: unknown field opening ${t}`);
    });
    if (units.length > MAX_UNITS) throw new Error(`disclosure: ${units.length} field units, more than ${MAX_UNITS}`);
    const signature = r.bytes(64);
    const document = r.opt(() => ({ event: r.u32(), digests: r.vec(() => r.bytes(32)) }));
    if (document && document.digests.length > MAX_DOCUMENT_EVENTS) throw new Error(`disclosure: a document of ${document.digests.length} events, more than ${MAX_DOCUMENT_EVENTS}`);
    r.end();
    return { chainId, sender, headerBytes, units, signature, document };
  }
  // `EventDisclosure::id_and_leaf`: the leaf of each unit, the event's field digest, the
  // transaction's body digest, its id and its block leaf.
  async function disclosedIdAndLeaf(d) {
    const leaves = [];
    for (const u of d.units) {
      leaves.push(u.leaf ? u.leaf : await tagged("tradechain/event-field", u.salt, str(u.name), u32(u.value.length), u.value));
    }
    const fields = await tagged("tradechain/event-fields", u32(leaves.length), ...leaves);
    let payload;
    if (d.document) {
      const own = d.document.digests[d.document.event];
      if (!own || !eq(own, fields)) throw new Error(`the opened event is not event ${d.document.event} of the document (${d.document.digests.length} events)`);
      payload = await tagged("tradechain/payload/provenance-document", u32(d.document.digests.length), ...d.document.digests);
    } else {
      payload = await tagged("tradechain/payload/provenance", fields);
    }
    const body = await tagged("tradechain/tx-body", d.headerBytes, payload);
    return { id: await tagged("tradechain/tx-id", body), leaf: await sha256(new Uint8Array([0]), body, d.signature) };
  }
  // `EventOpening::public_fields`: every public unit opened under its own name at its position.
  function publicFields(d) {
    if (d.units.length < UNITS.length) throw new Error(`the event discloses ${d.units.length} field units, fewer than the ${UNITS.length} every event has`);
    const v = {};
    UNITS.forEach(([name, pub], i) => {
      if (!pub) return;
      const u = d.units[i];
      if (u.leaf) throw new Error(`public field ${name} is withheld`);
      if (u.name !== name) throw new Error(`field ${name} is disclosed under the name ${JSON.stringify(u.name)}`);
      v[name] = u.value;
    });
    const rd = (name, f) => { const r = new Reader(v[name], `field ${name}`); const x = f(r); r.end(); return x; };
    const os = (r) => r.opt(() => r.str());
    const e = {};
    e.type = rd("type", (r) => r.tag(EVENT_TYPES, "event type"));
    e.eventId = rd("eventID", os);
    [e.timeMs, e.tzMin] = rd("eventTime", (r) => [r.i64(), r.i16()]);
    e.action = rd("action", (r) => r.opt(() => r.tag(ACTIONS, "action")));
    // `event_fields::Goods`: every identifier in a role that puts the event on an item's timeline.
    e.ids = rd("goods", (r) => {
      const s = () => r.str();
      const qe = () => { const c = r.str(); os(r); os(r); return c; };
      const ids = [...r.vec(s), ...r.vec(qe)]; // epcList, quantityList
      const parent = os(r);
      if (parent !== null) ids.push(parent);
      for (let i = 0; i < 3; i++) ids.push(...r.vec(s), ...r.vec(qe)); // child, input, output lists
      os(r); // transformationID
      return ids;
    });
    e.bizStep = rd("bizStep", os);
    e.disposition = rd("disposition", os);
    e.readPoint = rd("readPoint", os);
    e.bizLocation = rd("bizLocation", os);
    e.unlocode = rd("unlocode", os);
    e.customs = rd("customsStep", os);
    let declTimeMs = null;
    e.errorDeclaration = rd("errorDeclaration", (r) => r.opt(() => { declTimeMs = r.i64(); r.vec(() => r.str()); return true; })) !== null;
    e.declTimeMs = declTimeMs;
    e.withheld = d.units.filter((u) => u.leaf).length;
    return e;
  }
  // ---- goods keys: `ledger::gs1::goods_key`, for identifiers the ledger accepted (so valid) ----
  const PRIMARY = ["01", "00", "414", "417", "8003", "8004", "8018", "253"];
  function checkDigit(d) {
    let s = 0;
    for (let i = 0; i < d.length; i++) { const x = d.charCodeAt(d.length - 1 - i) - 48; s += i % 2 === 0 ? 3 * x : x; }
    return String((10 - (s % 10)) % 10);
  }
  const withCheck = (b) => b + checkDigit(b);
  function pctBytes(str) {
    const b = te.encode(str), out = [];
    for (let i = 0; i < b.length; i++) {
      if (b[i] === 37) { out.push(parseInt(String.fromCharCode(b[i + 1], b[i + 2]), 16)); i += 2; } else out.push(b[i]);
    }
    return out;
  }
  const pctDecode = (str) => td.decode(Uint8Array.from(pctBytes(str)));
  // Decode, then re-encode every byte but A-Z a-z 0-9 - . _ as %XX (`gs1::alnum`).
  const canon = (str) => pctBytes(str).map((x) => ((x >= 48 && x <= 57) || (x >= 65 && x <= 90) || (x >= 97 && x <= 122)
    || x === 45 || x === 46 || x === 95 ? String.fromCharCode(x) : "%" + x.toString(16).toUpperCase().padStart(2, "0"))).join("");
  function toGoodsKey(id) {
    if (id.startsWith("urn:epc:")) {
      const rest = id.slice(8), i1 = rest.indexOf(":"), i2 = rest.indexOf(":", i1 + 1);
      const scheme = rest.slice(0, i2), p = rest.slice(i2 + 1).split(".");
      const gtin = (cp, ir) => withCheck(ir.slice(0, 1) + cp + ir.slice(1));
      switch (scheme) {
        case "id:sgtin": return `01/${gtin(p[0], p[1])}/21/${canon(p[2])}`;
        case "idpat:sgtin": return `01/${gtin(p[0], p[1])}`;
        case "class:lgtin": return `01/${gtin(p[0], p[1])}/10/${canon(p[2])}`;
        case "id:sscc": return `00/${withCheck(p[1].slice(0, 1) + p[0] + p[1].slice(1))}`;
        case "id:sgln": case "id:pgln": {
          const ai = scheme === "id:sgln" ? "414" : "417", gln = withCheck(p[0] + p[1]);
          return p[2] === undefined || p[2] === "0" ? `${ai}/${gln}` : `${ai}/${gln}/254/${canon(p[2])}`;
        }
        case "id:grai": return `8003/${withCheck("0" + p[0] + p[1])}${canon(p[2])}`;
        case "id:giai": return `8004/${canon(p[0] + pctDecode(p[1]))}`;
        case "id:gsrn": return `8018/${withCheck(p[0] + p[1])}`;
        case "id:gdti": return `253/${withCheck(p[0] + p[1])}${canon(p[2])}`;
        default: return null;
      }
    }
    let path = id;
    const web = /^https?:\/\//.exec(id);
    if (web) {
      const rest = id.slice(web[0].length).split(/[?#]/)[0], slash = rest.indexOf("/");
      path = slash < 0 ? "" : rest.slice(slash + 1);
    }
    const segs = path.split("/").filter((x) => x !== ""), start = segs.findIndex((x) => PRIMARY.includes(x));
    if (start < 0) return null;
    const ai = segs[start], value = segs[start + 1] || "", q = new Map();
    for (let i = start + 2; i + 1 < segs.length; i += 2) q.set(segs[i], segs[i + 1]);
    const split = (n, tag) => { const v = pctDecode(value), num = v.slice(0, n), ser = v.slice(n); return ser === "" ? `${tag}/${num}` : `${tag}/${num}${canon(ser)}`; };
    switch (ai) {
      case "01": {
        const g = value.padStart(14, "0");
        return q.has("21") ? `01/${g}/21/${canon(q.get("21"))}` : q.has("10") ? `01/${g}/10/${canon(q.get("10"))}` : `01/${g}`;
      }
      case "00": case "8018": return `${ai}/${value}`;
      case "414": case "417": return q.has("254") ? `${ai}/${value}/254/${canon(q.get("254"))}` : `${ai}/${value}`;
      case "8003": return split(14, "8003");
      case "8004": return `8004/${canon(pctDecode(value))}`;
      default: return split(13, "253");
    }
  }

  // ledger/src/tx.rs `SignedTransaction` = borsh(Transaction) || signature(64).
  // ---- signatures (ledger/src/certificate.rs) ----
  const keyCache = new Map();
  async function ed25519Verify(pk, sig, msg) {
    const k = toHex(pk);
    if (!keyCache.has(k)) {
      keyCache.set(k, crypto.subtle.importKey("raw", pk, { name: "Ed25519" }, false, ["verify"]));
    }
    return crypto.subtle.verify({ name: "Ed25519" }, await keyCache.get(k), sig, msg);
  }
  // `vote_sign_bytes(chain_id, Precommit, height, round, Some(block_hash))`.
  const precommitBytes = (chainId, height, round, blockHash) => concat(
    str("tradechain/vote/v1"), str(chainId), new Uint8Array([1]), u64(height), u32(round),
    new Uint8Array([1]), blockHash);

  function validatorSet(validators) {
    const sorted = [...validators].sort((a, b) => cmp(a.pk, b.pk));
    for (let i = 1; i < sorted.length; i++) {
      if (eq(sorted[i - 1].pk, sorted[i].pk)) throw new Error("a genesis validator key appears twice");
    }
    if (sorted.length === 0 || sorted.some((v) => v.power === 0n)) throw new Error("bad genesis validator set");
    const total = sorted.reduce((t, v) => t + v.power, 0n);
    const bytes = concat(u32(sorted.length), ...sorted.map((v) => concat(str(v.org), v.pk, u64(v.power))));
    return { list: sorted, byKey: new Map(sorted.map((v) => [toHex(v.pk), v])), total, quorum: (total * 2n) / 3n + 1n, bytes };
  }

  // `CommitCertificate::verify`: returns the number of signers.
  const certCache = new Map();
  function verifyCertificate(ctx, cert, height, blockHash) {
    const key = toHex(blockHash) + toHex(cert.blockHash) + cert.height + ":" + cert.round + ":" + cert.sigs.map((s) => toHex(s.sig)).join("");
    if (!certCache.has(key)) certCache.set(key, checkCertificate(ctx, cert, height, blockHash));
    return certCache.get(key);
  }
  async function checkCertificate(ctx, cert, height, blockHash) {
    if (cert.height !== height) throw new Error(`commit certificate is for height ${cert.height}, expected ${height}`);
    if (!eq(cert.blockHash, blockHash)) throw new Error(`commit certificate of height ${height} is for another block`);
    const msg = precommitBytes(ctx.chainId, cert.height, cert.round, cert.blockHash);
    const seen = new Set();
    let power = 0n;
    for (const s of cert.sigs) {
      const k = toHex(s.pk);
      const v = ctx.vs.byKey.get(k);
      if (!v) throw new Error(`block ${height}: signer ${k.slice(0, 16)}… is not a genesis validator`);
      if (seen.has(k)) throw new Error(`block ${height}: validator ${v.org} signed twice`);
      seen.add(k);
      if (!(await ed25519Verify(s.pk, s.sig, msg))) {
        throw new Error(`block ${height}: the signature of validator ${v.org} does not verify`);
      }
      power += v.power;
    }
    if (power < ctx.vs.quorum) {
      throw new Error(`block ${height}: signers hold ${power} of ${ctx.vs.total} power; more than 2/3 (${ctx.vs.quorum}) is needed`);
    }
    return cert.sigs.length;
  }

  // RFC 9162 §2.1.3.2 (`InclusionProof::verify_hash`).
  async function inclusionReaches(leaf, p, root) {
    if (p.index >= p.treeSize) return false;
    let fi = p.index, sn = p.treeSize - 1n, r = leaf;
    const one = new Uint8Array([1]);
    for (const s of p.path) {
      if (sn === 0n) return false;
      if ((fi & 1n) === 1n || fi === sn) {
        r = await sha256(one, s, r);
        if ((fi & 1n) === 0n) while ((fi & 1n) === 0n && fi !== 0n) { fi >>= 1n; sn >>= 1n; }
      } else {
        r = await sha256(one, r, s);
      }
      fi >>= 1n; sn >>= 1n;
    }
    return sn === 0n && eq(r, root);
  }

  // `grpc::proof::verify_entry`: one timeline entry of the chain of `goodsKey`.
  async function verifyEntry(ctx, goodsKey, e) {
    const p = e.proof;
    if (!p) throw new Error(`entry seq ${e.seq} of ${goodsKey} has no proof`);
    const headerBytes = fromHex(p.header, "block header");
    const h = decodeHeader(headerBytes);
    if (h.chainId !== ctx.chainId) throw new Error(`header is for chain ${JSON.stringify(h.chainId)}, expected ${JSON.stringify(ctx.chainId)}`);
    if (!eq(h.validatorsHash, ctx.vsHash)) throw new Error(`block ${h.height} is certified by another validator set than the genesis one`);
    const blockHash = await tagged("tradechain/block", headerBytes);
    const signers = await verifyCertificate(ctx, decodeCertificate(fromHex(p.certificate, "commit certificate")), h.height, blockHash);
    const inc = decodeInclusion(fromHex(p.inclusion, "inclusion proof"));
    const leaf = fromHex(p.leaf_hash, "leaf hash");
    if (leaf.length !== 32) throw new Error("leaf hash must be 32 bytes");
    if (!(await inclusionReaches(leaf, inc, h.txRoot))) throw new Error(`entry seq ${e.seq}: the inclusion proof does not reach block ${h.height}'s tx root`);
    const ev = decodeEventRef(fromHex(p.event_ref, "event reference"));
    if (ev.height !== h.height || BigInt(ev.index) !== inc.index) throw new Error(`entry seq ${e.seq}: event location differs from the proven leaf`);
    // Accepted, not a rejected transaction in the block: `ledger::block::outcome_leaf(index, Accepted)`
    // (borsh of (u32, TxOutcome::Accepted)) reaches the header's results hash.
    if (!p.outcome) throw new Error(`entry seq ${e.seq} has no outcome proof`);
    const out = decodeInclusion(fromHex(p.outcome, "outcome proof"));
    const outcomeLeaf = await sha256(new Uint8Array([0]), u32(ev.index), new Uint8Array([0]));
    if (out.index !== inc.index || !(await inclusionReaches(outcomeLeaf, out, h.resultsHash))) {
      throw new Error(`entry seq ${e.seq}: the transaction is not proven accepted (its outcome does not reach block ${h.height}'s results hash)`);
    }
    if (toHex(ev.txId) !== e.tx_id || ev.seq !== BigInt(e.seq) || ev.timeMs !== BigInt(e.time_ms)) {
      throw new Error(`entry seq ${e.seq}: the event reference differs from the entry's tx id, seq or time`);
    }
    // Disclosed field by field: the opening recomputes the leaf and the tx id, so every field it
    // opens is the one the sender signed.
    if (!p.disclosure) throw new Error(`entry seq ${e.seq}: no disclosure of the signed event`);
    const d = decodeDisclosure(fromHex(p.disclosure, "disclosure"));
    const disclosed = await disclosedIdAndLeaf(d);
    if (!eq(disclosed.leaf, leaf)) throw new Error(`entry seq ${e.seq}: the disclosed fields do not hash to the signed transaction's leaf (a field was altered)`);
    if (!eq(disclosed.id, ev.txId)) throw new Error(`entry seq ${e.seq}: the disclosed transaction's id differs from the event's tx id`);
    const disclosedEvent = d.document ? d.document.event : 0;
    if (disclosedEvent !== ev.event) throw new Error(`entry seq ${e.seq}: the disclosure opens event ${disclosedEvent} of the transaction, the entry is event ${ev.event}`);
    if (d.chainId !== ctx.chainId) throw new Error(`entry seq ${e.seq}: the transaction is signed for chain ${JSON.stringify(d.chainId)}`);
    let pe;
    try { pe = publicFields(d); } catch (x) { throw new Error(`entry seq ${e.seq}: ${x.message}`); }
    // Bound to the item: the signed event names it, in any spelling.
    if (!pe.ids.some((id) => toGoodsKey(id) === goodsKey)) {
      throw new Error(`entry seq ${e.seq}: the signed event does not name goods ${goodsKey}`);
    }
    // What the entry shows must be what was signed. The ledger indexes an error declaration at
    // its declarationTime (ledger::validate::provenance), so that is the time its entry shows.
    const shown = [
      ["eventTime", String(pe.errorDeclaration ? pe.declTimeMs : pe.timeMs), String(e.time_ms)],
      ["eventTimeZoneOffset", String(pe.tzMin), String(e.tz_min ?? 0)],
      ["recording org", d.sender, e.org],
      ["type", pe.type, e.type],
      ["eventID", pe.eventId || "", e.event_id ?? ""],
      ["action", pe.action || "", e.action],
      ["bizStep", pe.bizStep || "", e.biz_step],
      ["disposition", pe.disposition || "", e.disposition],
      ["readPoint", pe.readPoint || "", e.read_point],
      ["bizLocation", pe.bizLocation || "", e.biz_location ?? ""],
      ["unlocode", pe.unlocode || "", e.unlocode],
      ["customs step", pe.customs || "", e.customs_step],
      ["error declaration", String(pe.errorDeclaration), String(e.error_declaration ?? false)],
    ];
    for (const [field, sig, entry] of shown) {
      if (sig !== entry) {
        throw new Error(`entry seq ${e.seq} shows ${field} ${JSON.stringify(entry)} but the signed event says ${JSON.stringify(sig)}`);
      }
    }
    const signed = { sender: d.sender, event: pe, commercial: p.redacted === true };
    const expect = await tagged("tradechain/item-event", ev.prev, ev.txId, u32(ev.event), te.encode(goodsKey));
    if (!eq(expect, ev.hash)) throw new Error(`the event hash of seq ${e.seq} does not match its inputs`);
    if (toHex(ev.prev) !== p.prev_event_hash || toHex(ev.hash) !== p.event_hash) {
      throw new Error(`entry seq ${e.seq}: hex event hashes differ from the encoded event reference`);
    }
    return { ev, signers, signed, blockTimeMs: h.timeMs };
  }

  // `grpc::proof::verify_head`: the public head of `goodsKey` under a certified block's state root.
  async function verifyHead(ctx, goodsKey, p) {
    if (!p) throw new Error(`${goodsKey}: no head proof, so the answer is not proven complete`);
    const headerBytes = fromHex(p.header, "block header");
    const h = decodeHeader(headerBytes);
    if (h.chainId !== ctx.chainId) throw new Error(`head proof: header is for chain ${JSON.stringify(h.chainId)}`);
    if (!eq(h.validatorsHash, ctx.vsHash)) throw new Error(`head proof: block ${h.height} is certified by another validator set than the genesis one`);
    const blockHash = await tagged("tradechain/block", headerBytes);
    await verifyCertificate(ctx, decodeCertificate(fromHex(p.certificate, "commit certificate")), h.height, blockHash);
    const value = fromHex(p.item_head, "item head");
    const why = await stateProofHolds(decodeStateProof(fromHex(p.state_proof, "state proof")), h.stateHash, itemHeadKey(goodsKey), value);
    if (why) throw new Error(`head proof of ${goodsKey} at block ${h.height}: ${why}`);
    const head = decodeItemHead(value);
    if (head.goodsKey !== goodsKey) throw new Error(`head proof: the head is of ${head.goodsKey}, not ${goodsKey}`);
    let certificate = null;
    if (head.certificate) {
      const c = head.certificate;
      const cv = fromHex(p.certificate_head || "", "certificate head");
      const cwhy = await stateProofHolds(decodeStateProof(fromHex(p.certificate_proof || "", "certificate proof")), h.stateHash, certificateHeadKey(c.issuer, c.number), cv);
      if (cwhy) throw new Error(`certificate proof of ${c.issuer} ${c.number} at block ${h.height}: ${cwhy}`);
      certificate = decodeCertificateHead(cv);
      if (certificate.issuer !== c.issuer || certificate.number !== c.number) throw new Error("certificate proof: the head is of another certificate");
    }
    let waybill = null;
    if (head.waybill) {
      const w = head.waybill;
      const wv = fromHex(p.waybill_head || "", "waybill head");
      const wwhy = await stateProofHolds(decodeStateProof(fromHex(p.waybill_proof || "", "waybill proof")), h.stateHash, waybillHeadKey(w.carrier, w.reference), wv);
      if (wwhy) throw new Error(`waybill proof of ${w.carrier} ${w.reference} at block ${h.height}: ${wwhy}`);
      waybill = decodeWaybillHead(wv);
      if (waybill.carrier !== w.carrier || waybill.reference !== w.reference) throw new Error("waybill proof: the head is of another waybill");
    }
    return { head, certificate, waybill, height: h.height, timeMs: h.timeMs };
  }

  // `grpc::proof::verify_page` for one chain (first page: from seq 0 and the zero hash), and
  // complete as of its proven head when the chain is whole.
  async function verifyChain(ctx, chain) {
    const out = [];
    let last = null;
    for (const e of chain.entries) {
      const v = await verifyEntry(ctx, chain.goods_key, e);
      if (last === null && v.ev.seq !== 0n) throw new Error(`${chain.goods_key}: the first entry has seq ${v.ev.seq}, expected 0`);
      if (!eq(v.ev.prev, last === null ? ZERO : last)) throw new Error(`${chain.goods_key}: entry seq ${v.ev.seq} does not follow the previous entry`);
      last = v.ev.hash;
      out.push({ entry: e, ...v });
    }
    if (out.length === 0) throw new Error(`${chain.goods_key}: no events to verify`);
    if (chain.complete && toHex(last) !== chain.last_event_hash) {
      throw new Error(`${chain.goods_key}: the chain does not end at the item's last event hash`);
    }
    const proven = await verifyHead(ctx, chain.goods_key, chain.head);
    if (chain.complete && (BigInt(out.length) !== proven.head.eventCount || !eq(last, proven.head.lastHash))) {
      throw new Error(`${chain.goods_key}: the page holds ${out.length} events but the item has ${proven.head.eventCount} as of block ${proven.height} (an event is missing or added)`);
    }
    out.proven = proven;
    return out;
  }

  // ---- page ----
  function setBadge(state, text) {
    const b = $("tc-badge");
    if (b) { b.className = `badge ${state}`; b.textContent = text; }
    document.body.dataset.tcVerified = state;
  }
  function node(tag, attrs, ...kids) {
    const n = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) n.setAttribute(k, v);
    for (const k of kids) if (k !== null && k !== undefined) n.append(k);
    return n;
  }
  // `grpc::journey::fmt_time`: UTC, minutes.
  function fmtTime(ms) {
    const d = new Date(Number(ms));
    if (isNaN(d.getTime())) return String(ms);
    const iso = d.toISOString();
    return `${iso.slice(0, 10)} ${iso.slice(11, 16)}Z`;
  }
  // `grpc::journey::what`.
  const what = (customs, bizStep) => customs ? `customs ${customs}` : (bizStep || "").split(/[-:/]/).pop();

  function render(ctx, proofChains, chains) {
    // The journey (`grpc::journey::journey`): every chain's events by time, block and index, the
    // item's own before a container's; an event in two chains (an aggregation) shown once.
    const rows = [];
    chains.forEach((c, i) => c.forEach((v) => rows.push({ on: i === 0 ? "" : proofChains[i].goods_key, ...v })));
    rows.sort((a, b) => (a.ev.timeMs < b.ev.timeMs ? -1 : a.ev.timeMs > b.ev.timeMs ? 1 : 0)
      || (a.ev.height < b.ev.height ? -1 : a.ev.height > b.ev.height ? 1 : 0)
      || a.ev.index - b.ev.index || (a.on === "" ? 0 : 1) - (b.on === "" ? 0 : 1));
    const shown = rows.filter((r, i) => i === 0 || !(r.ev.height === rows[i - 1].ev.height && r.ev.index === rows[i - 1].ev.index));
    const ol = $("tc-timeline");
    if (!ol) return shown;
    const items = shown.map((r) => {
      const e = r.entry;
      const s = r.signed;
      const orgId = s.sender;
      const member = ctx.orgs.get(orgId);
      const who = member ? member.name : (e.org_name || e.org);
      const roles = member ? member.roles : (e.roles || []);
      const where = s.event.unlocode || "";
      const li = node("li", { class: s.commercial ? "v signed withheld" : "v signed", "data-seq": String(r.ev.seq), "data-on": r.on },
        node("time", null, fmtTime(r.ev.timeMs)), " ",
        node("b", null, what(s.event.customs, s.event.bizStep)),
        `${where ? ` at ${where}` : ""} — ${who} (${roles.join(", ")}) · block ${r.ev.height}`,
        r.on ? node("span", { class: "on" }, ` on ${r.on}`) : null, " ",
        node("span", { class: "pf", title: `signed by ${orgId}; committed by ${r.signers} of ${ctx.vs.list.length} validators` }, "✓ signed & committed"),
        s.commercial ? node("span", { class: "np", title: `the event's commercial fields are withheld: ${s.event.withheld} field hashes, salted, prove only that they were signed` },
          " · commercial details withheld") : null);
      if (!member) li.append(node("span", { class: "np" }, " (org name as reported by the node)"));
      return li;
    });
    ol.replaceChildren(...items);
    const count = $("tc-count");
    if (count) count.textContent = `${items.length} events`;
    return shown;
  }

  function markState(shown, proven, route) {
    // The customs and certificate of origin lines are the proven heads' (checked in `main`).
    for (const id of ["tc-customs", "tc-origin"]) {
      const n = $(id);
      if (n) n.append(node("span", { class: "pf" }, ` ✓ proven at block ${proven.height}`));
    }
    // The route line is redrawn from the proven waybill head (`resolver::page`'s wording), or
    // removed when no proven head names a waybill.
    const n = $("tc-route");
    if (n && route) {
      const r = route.shown;
      n.replaceChildren(`Route: ${r.mode} ${r.from} → ${r.to} by ${r.carrier} (${r.vehicle})`,
        node("span", { class: "pf" }, ` ✓ proven at block ${route.height}`));
    } else if (n) n.remove();
  }

  async function main() {
    const t0 = performance.now();
    const dataEl = $("tc-data");
    if (!dataEl) return;
    let data;
    try { data = JSON.parse(dataEl.textContent); } catch (e) { setBadge("no", "not verified: the page's proof data is not JSON"); return; }
    if (!window.isSecureContext || !window.crypto || !crypto.subtle) {
      setBadge("cannot", `cannot verify here: this page was opened over plain http from ${location.host}, and browsers `
        + "give the cryptography it needs (WebCrypto) only to pages on https or on this device (localhost). The timeline "
        + "below is the node's word. Open the page over https, or check it with `tradechain query provenance … --verify genesis.json`.");
      return;
    }
    try {
      await crypto.subtle.importKey("raw", new Uint8Array(32).fill(1), { name: "Ed25519" }, false, ["verify"]);
    } catch (e) {
      if (e && e.name === "NotSupportedError") {
        setBadge("cannot", "cannot verify here: this browser has no Ed25519 in WebCrypto (Chrome 137+, Firefox 129+ and Safari 17+ have it). The timeline below is the node's word.");
        return;
      }
    }
    try {
      const proofs = data.proofs;
      if (!proofs || !Array.isArray(proofs.chains) || proofs.chains.length === 0) throw new Error("the page carries no proofs");
      const gBytes = fromHex(proofs.genesis_borsh, "genesis");
      const gHash = toHex(await tagged("tradechain/genesis", gBytes));
      if (gHash !== data.genesis_hash) throw new Error("the embedded genesis does not hash to the genesis hash the page names");
      // A label may pin the consortium's genesis (`?tc_genesis=<hex>` in its Digital Link): then
      // the answering node's copy is not trusted for it.
      const pin = new URLSearchParams(location.search).get("tc_genesis");
      if (pin !== null && pin.toLowerCase() !== gHash) {
        throw new Error(`this page's genesis ${gHash.slice(0, 16)}… is not the one the label pins (${pin.slice(0, 16)}…)`);
      }
      const g = decodeGenesis(gBytes);
      if (g.chainId !== data.chain_id) throw new Error(`the genesis is for chain ${JSON.stringify(g.chainId)}, the page names ${JSON.stringify(data.chain_id)}`);
      const vs = validatorSet(g.validators);
      const ctx = { chainId: g.chainId, orgs: g.orgs, vs, vsHash: await tagged("tradechain/validator-set", vs.bytes) };
      if (proofs.chains[0].goods_key !== data.goods_key) throw new Error("the first proof chain is not the item's");
      // The answer is for the label that was scanned (this page's own Digital Link path).
      const scanned = toGoodsKey(decodeURI(location.pathname));
      if (scanned !== null && scanned !== data.goods_key) {
        throw new Error(`the page answers for ${data.goods_key}, not for the scanned label ${scanned}`);
      }
      const chains = [];
      for (const c of proofs.chains) chains.push(await verifyChain(ctx, c));
      // Each container is the one the previous proven head names (`grpc::proof::verify_answer`).
      let parent = chains[0].proven.head.parent;
      for (let i = 1; i < chains.length; i++) {
        if (parent !== proofs.chains[i].goods_key) {
          throw new Error(`container ${proofs.chains[i].goods_key} is not the one the proven head names (${parent || "none"})`);
        }
        parent = chains[i].proven.head.parent;
      }
      if (parent !== null && chains.length < 1 + MAX_CONTAINER_DEPTH) {
        throw new Error(`the proven head names container ${parent} but the answer leaves it out`);
      }
      // Past the depth the answer shows, the next container is named (proven) but not shown.
      const beyond = parent;
      // The certificate of origin shown is the proven one (`provenance::certificate_status`).
      {
        const shown = data.certificate_of_origin || { state: "None" };
        const c = chains[0].proven.certificate;
        const ref = chains[0].proven.head.certificate;
        const want = !ref ? { state: "None" } : !c ? { state: "Unknown", issuer: ref.issuer, number: ref.number }
          : { state: c.revoked !== null ? "Revoked" : "Valid", issuer: c.issuer, number: c.number, origin_country: c.origin, destination_country: c.destination };
        for (const [k, v] of Object.entries(want)) {
          if (shown[k] !== v) throw new Error(`the page shows certificate of origin ${k} ${JSON.stringify(shown[k])}, the proven one says ${JSON.stringify(v)}`);
        }
      }
      // The route shown is the proven one (`provenance::waybill_route`) of the item or, failing
      // that, of its innermost container whose proven head names a waybill (`grpc::journey`).
      let route = null;
      {
        const shown = data.route || null;
        const i = chains.findIndex((c) => c.proven.head.waybill !== null);
        if (i < 0) {
          if (shown !== null) throw new Error(`the page shows route ${shown.carrier} ${shown.reference}, but no proven head names a waybill`);
        } else {
          const ref = chains[i].proven.head.waybill;
          if (shown === null) throw new Error(`the page shows no route, but the proven head of ${proofs.chains[i].goods_key} names waybill ${ref.carrier} ${ref.reference}`);
          const want = waybillRoute(ref, chains[i].proven.waybill);
          for (const [k, v] of Object.entries(want)) {
            if (shown[k] !== v) throw new Error(`the page shows route ${k} ${JSON.stringify(shown[k])}, the proven waybill ${ref.carrier} ${ref.reference} says ${JSON.stringify(v)}`);
          }
          route = { shown: want, height: chains[i].proven.height };
        }
      }
      // The customs status shown is the proven head's of the chain it was recorded on.
      if (data.customs) {
        const on = data.customs_recorded_on || data.goods_key;
        const i = proofs.chains.findIndex((c) => c.goods_key === on);
        if (i < 0 || chains[i].proven.head.customs !== data.customs) {
          throw new Error(`the page shows customs ${JSON.stringify(data.customs)} on ${on}, which its proven head does not say`);
        }
      }
      const k = Math.min(...chains.flat().map((v) => v.signers));
      const shown = render(ctx, proofs.chains, chains);
      markState(shown, chains[0].proven, route);
      const withheld = shown.filter((r) => r.signed.commercial).length;
      const partial = proofs.chains.some((c) => !c.complete);
      const at = chains[0].proven;
      const asOf = partial ? `${at.head.eventCount} events as of block ${at.height}, the first page shown`
        : `complete as of block ${at.height}, ${fmtTime(at.timeMs)}`;
      setBadge("yes", `verified: committed by ${k} of ${vs.list.length} validators · ${asOf}`);
      // How long the checks took in this browser (read by the browser test for the benchmarks).
      document.body.dataset.tcVerifyMs = String(Math.round(performance.now() - t0));
      const note = $("tc-note");
      if (note) {
        note.replaceChildren(
          `Checked in this browser: ${shown.length} events on ledger `, node("b", null, g.chainId),
          `, each in a block whose commit certificate carries signatures from validators holding more than 2/3 of the power of the genesis validator set (at least ${k} of ${vs.list.length}), with a Merkle proof into that block and the item's unbroken event-hash chain`
          + (partial ? " (the first page of events only)" : "")
          + (beyond !== null ? ` (the last container shown is itself in ${beyond}, proven by its head; that container's events are not on this page)` : "")
          + `, and that these are all of its events up to block ${at.height} (the item's head, proven under that block's state root)`
          + `. What, where, when and who of every event are the signed event's (each field checked against its salted commitment); ${withheld} events carry commercial fields, which are withheld and given only as salted hashes. Genesis (computed here from the genesis this page embeds`
          + (pin !== null ? ", and the one the label pins" : " — compare it with the one your consortium publishes, or print labels that pin it")
          + `): `,
          node("span", { class: "hash", id: "tc-genesis" }, gHash), ".");
      }
    } catch (e) {
      setBadge("no", `not verified: ${e && e.message ? e.message : e}`);
    }
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", () => { main(); });
  else main();
})();
