//! Member authentication of read requests: an org signs each request with one of its keys and
//! sends the proof in metadata (`x-tc-org`, `x-tc-key-id`, `x-tc-time-ms`, `x-tc-signature`).
//!
//! Signed bytes: `"tradechain/grpc-auth/v1" 0x00 chain_id 0x00 method 0x00 time_ms 0x00
//! SHA-256(protobuf encoding of the request)`. Binding the chain id, the method path and the
//! request digest means a captured signature cannot be replayed on another chain, another
//! method or with other arguments; the time window bounds replays of the same request.
//!
//! The checks themselves (`verify_proof`) are shared with the HTTP binding's signed requests
//! (`epcis_rest::auth`, its own domain and signed bytes).
//!
//! Invariants: the key is looked up in committed state (a removed org or a rotated key stops
//! authenticating at once); verification is the ledger's one ed25519 rule (ZIP-215); every failure is UNAUTHENTICATED
//! with a message naming the metadata field, and never reveals whether an org exists beyond that.
use prost::Message;
use sha2::{Digest, Sha256};
use tonic::Status;
use tonic::metadata::{Ascii, MetadataMap, MetadataValue};
use tradechain_ledger::crypto::{SecretKey, Signature};
use tradechain_ledger::identity::{Org, OrgId, Role};
use tradechain_ledger::state::keys;

use super::backend::Backend;

pub const ORG: &str = "x-tc-org";
pub const KEY_ID: &str = "x-tc-key-id";
pub const TIME_MS: &str = "x-tc-time-ms";
pub const SIGNATURE: &str = "x-tc-signature";
const DOMAIN: &[u8] = b"tradechain/grpc-auth/v1";

/// The authenticated caller of a member read.
#[derive(Clone, Debug)]
pub struct Caller {
    pub org: Org,
}

impl Caller {
    pub fn id(&self) -> &OrgId {
        &self.org.id
    }
    pub fn has(&self, role: Role) -> bool {
        self.org.has_role(role)
    }
    pub fn is_regulator(&self) -> bool {
        self.has(Role::Regulator)
    }
}

/// The bytes an org signs for one request.
pub fn sign_bytes(chain_id: &str, method: &str, time_ms: i64, request_digest: &[u8; 32]) -> Vec<u8> {
    let mut out = Vec::with_capacity(DOMAIN.len() + chain_id.len() + method.len() + 64);
    for part in [
        DOMAIN,
        chain_id.as_bytes(),
        method.as_bytes(),
        time_ms.to_string().as_bytes(),
    ] {
        out.extend_from_slice(part);
        out.push(0);
    }
    out.extend_from_slice(request_digest);
    out
}

pub fn request_digest<M: Message>(msg: &M) -> [u8; 32] {
    Sha256::digest(msg.encode_to_vec()).into()
}

/// Client side: add the authentication metadata to a request.
pub fn sign_request<M: Message>(
    req: &mut tonic::Request<M>,
    chain_id: &str,
    method: &str,
    org: &OrgId,
    key_id: u32,
    key: &SecretKey,
    time_ms: i64,
) -> Result<(), String> {
    let digest = request_digest(req.get_ref());
    let sig = key.sign(&sign_bytes(chain_id, method, time_ms, &digest));
    let md = req.metadata_mut();
    for (name, value) in [
        (ORG, org.as_str().to_string()),
        (KEY_ID, key_id.to_string()),
        (TIME_MS, time_ms.to_string()),
        (SIGNATURE, hex::encode(sig.0)),
    ] {
        let v: MetadataValue<Ascii> = value.parse().map_err(|e| format!("{name}: {e}"))?;
        md.insert(name, v);
    }
    Ok(())
}

fn field<'a>(md: &'a MetadataMap, name: &str) -> Result<&'a str, Status> {
    md.get(name)
        .ok_or_else(|| Status::unauthenticated(format!("missing {name} metadata (member authentication required)")))?
        .to_str()
        .map_err(|_| Status::unauthenticated(format!("{name}: not ASCII")))
}

/// The four proof fields of a signed request, as text (gRPC metadata or HTTP headers).
pub struct Proof<'a> {
    pub org: &'a str,
    pub key_id: &'a str,
    pub time_ms: &'a str,
    pub signature: &'a str,
}

/// Why a proof failed: the field at fault (`ORG`, `KEY_ID`, `TIME_MS`, `SIGNATURE`) and what is
/// wrong; `internal` for a storage failure (not the caller's fault).
#[derive(Debug)]
pub struct ProofError {
    pub field: &'static str,
    pub message: String,
    pub internal: bool,
}

impl ProofError {
    fn new(field: &'static str, message: String) -> ProofError {
        ProofError {
            field,
            message,
            internal: false,
        }
    }
}

/// Check a signed request's proof, whatever carries it (gRPC metadata here, HTTP headers in
/// `epcis_rest::auth`): the time is within `skew_ms` of `now_ms`, the org is a current member
/// with key `key_id` in committed state, and the signature verifies over `signed(time_ms)` —
/// the caller builds the signed bytes for the claimed time (its own domain, method, digest).
/// Returns the caller and the signature bytes (for a replay cache).
pub fn verify_proof(
    backend: &dyn Backend,
    proof: &Proof<'_>,
    signed: &dyn Fn(i64) -> Vec<u8>,
    now_ms: i64,
    skew_ms: u64,
) -> Result<(Caller, [u8; 64]), ProofError> {
    let org_id = OrgId::new(proof.org).map_err(|e| ProofError::new(ORG, e.to_string()))?;
    let key_id: u32 = proof
        .key_id
        .parse()
        .map_err(|_| ProofError::new(KEY_ID, "not a decimal u32".into()))?;
    let time_ms: i64 = proof
        .time_ms
        .parse()
        .map_err(|_| ProofError::new(TIME_MS, "not a decimal Unix time in ms".into()))?;
    if time_ms.abs_diff(now_ms) > skew_ms {
        return Err(ProofError::new(
            TIME_MS,
            format!("{time_ms} is more than {skew_ms} ms from the server's time {now_ms}"),
        ));
    }
    let sig_bytes = hex::decode(proof.signature).map_err(|_| ProofError::new(SIGNATURE, "not hex".into()))?;
    let sig: [u8; 64] = sig_bytes
        .try_into()
        .map_err(|_| ProofError::new(SIGNATURE, "must be 64 bytes".into()))?;
    let org: Org = backend
        .state_get(&keys::org(&org_id))
        .map_err(|e| ProofError {
            field: ORG,
            message: e.to_string(),
            internal: true,
        })?
        .and_then(|b| tradechain_ledger::codec::decode(&b).ok())
        .ok_or_else(|| ProofError::new(ORG, format!("{org_id} is not a current member")))?;
    let key = org
        .key(key_id)
        .ok_or_else(|| ProofError::new(KEY_ID, format!("{org_id} has no current key {key_id}")))?;
    key.verify(&signed(time_ms), &Signature(sig))
        .map_err(|_| ProofError::new(SIGNATURE, format!("does not verify for {org_id} key {key_id}")))?;
    Ok((Caller { org }, sig))
}

/// Server side: authenticate a request for `method` at wall-clock `now_ms`.
pub fn authenticate<M: Message>(
    backend: &dyn Backend,
    md: &MetadataMap,
    msg: &M,
    method: &str,
    now_ms: i64,
    skew_ms: u64,
) -> Result<Caller, Status> {
    let proof = Proof {
        org: field(md, ORG)?,
        key_id: field(md, KEY_ID)?,
        time_ms: field(md, TIME_MS)?,
        signature: field(md, SIGNATURE)?,
    };
    let digest = request_digest(msg);
    let chain_id = backend.genesis().chain_id.clone();
    let signed = |t: i64| sign_bytes(&chain_id, method, t, &digest);
    verify_proof(backend, &proof, &signed, now_ms, skew_ms)
        .map(|(caller, _)| caller)
        .map_err(|e| {
            if e.internal {
                Status::internal(e.message)
            } else {
                Status::unauthenticated(format!("{}: {}", e.field, e.message))
            }
        })
}
