//! Certificates of origin: issued by a chamber of commerce or customs, revocable, never deleted.
use super::{Party, Quantity};
use borsh::{BorshDeserialize, BorshSerialize};
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct CertificateIssue {
    /// Unique per issuer.
    pub number: String,
    pub exporter: Party,
    pub producer: Party,
    pub consignee: Party,
    /// ISO 3166-1 alpha-2; must equal the issuing authority's country.
    pub origin_country: String,
    pub destination_country: String,
    pub hs_code: String,
    /// E.g. `WO` (wholly obtained), `PE`, `PSR` (product-specific rule), `RVC40`.
    pub origin_criterion: String,
    pub quantity: Quantity,
    pub invoice_reference: String,
    pub goods_description: String,
    /// Goods items covered (GS1 keys).
    #[serde(default)]
    pub goods_ids: Vec<String>,
    /// Preferential (under a trade agreement) or non-preferential.
    #[serde(default)]
    pub preferential: bool,
}

#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "snake_case")]
// The issue variant is large by nature (a whole certificate); ops are decoded once per tx.
#[allow(clippy::large_enum_variant)]
pub enum CertificateOp {
    Issue(CertificateIssue),
    Revoke { number: String, reason: String },
}
