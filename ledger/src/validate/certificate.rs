//! Certificates of origin.
//!
//! Invariants enforced:
//! - Only chambers of commerce or customs issue; the number is unique per issuer; the origin
//!   country is the issuing authority's country; countries are ISO 3166; the HS code is 6 digits
//!   with an optional national extension; goods ids are GS1 keys.
//! - Issuing links each covered goods item (`ItemRecord.certificate`) so customs rules can find
//!   the certificate of an item; the item's event chain is not touched.
//! - Revocation only by the issuer, once; a revoked certificate stays on the ledger, flagged
//!   with the reason (never deleted).
use super::{country, gs1_key, hs_code, limits, reject, require_role};
use crate::execute::{Rejection, TxContext, Validator};
use crate::identity::Role;
use crate::payload::{CertificateOp, CertificateRef, Payload};
use crate::records::{CertificateRecord, ItemRecord};
use crate::state::{StateView, Writes, get_typed, keys};

pub struct CertificateValidator;

impl Validator for CertificateValidator {
    fn family(&self) -> &'static str {
        "certificate"
    }

    fn validate(&self, ctx: &TxContext<'_>, view: &dyn StateView) -> Result<Writes, Rejection> {
        limits(ctx)?;
        let Payload::Certificate(op) = &ctx.tx.payload else {
            return reject("envelope.family", "not a certificate payload");
        };
        let me = &ctx.sender.id;
        let mut w = Writes::default();
        match op {
            CertificateOp::Issue(doc) => {
                require_role(
                    ctx.sender,
                    &[Role::Chamber, Role::Customs],
                    "issue certificates of origin",
                )?;
                country("origin_country", &doc.origin_country)?;
                country("destination_country", &doc.destination_country)?;
                country("exporter.country", &doc.exporter.country)?;
                country("producer.country", &doc.producer.country)?;
                country("consignee.country", &doc.consignee.country)?;
                if doc.origin_country != ctx.sender.country {
                    return reject(
                        "certificate.origin_mismatch",
                        format!(
                            "origin_country {} differs from the issuing authority {me}'s country {}",
                            doc.origin_country, ctx.sender.country
                        ),
                    );
                }
                hs_code("hs_code", &doc.hs_code)?;
                let mut goods = Vec::with_capacity(doc.goods_ids.len());
                for (i, id) in doc.goods_ids.iter().enumerate() {
                    goods.push(gs1_key(&format!("goods_ids[{i}]"), id)?);
                }
                let key = keys::certificate(me, &doc.number);
                if view.get(&key).is_some() {
                    return reject(
                        "certificate.duplicate",
                        format!("issuer {me} already issued certificate {}", doc.number),
                    );
                }
                let cref = CertificateRef {
                    issuer: me.clone(),
                    number: doc.number.clone(),
                };
                goods.sort();
                goods.dedup();
                for g in goods {
                    let ik = keys::item(&g);
                    let mut item = get_typed::<ItemRecord>(view, &ik).unwrap_or_else(|| ItemRecord::new(&g));
                    item.certificate = Some(cref.clone());
                    w.put(ik, &item);
                }
                w.put(
                    key,
                    &CertificateRecord {
                        issuer: me.clone(),
                        document: doc.clone(),
                        revoked: None,
                        version: 1,
                        issued_at: ctx.at,
                        updated_at: ctx.at,
                    },
                );
            }
            CertificateOp::Revoke { number, reason } => {
                let key = keys::certificate(me, number);
                let Some(mut rec) = get_typed::<CertificateRecord>(view, &key) else {
                    return reject(
                        "certificate.not_found",
                        format!("no certificate {number} issued by {me}"),
                    );
                };
                if let Some(why) = &rec.revoked {
                    return reject(
                        "certificate.revoked",
                        format!("certificate {number} of {me} is already revoked ({why})"),
                    );
                }
                rec.revoked = Some(reason.clone());
                rec.version = rec.version.saturating_add(1);
                rec.updated_at = ctx.at;
                w.put(key, &rec);
            }
        }
        Ok(w)
    }
}

/// Whether `cref` names an issued, unrevoked certificate; the reason when not.
pub(crate) fn certificate_valid(view: &dyn StateView, cref: &CertificateRef) -> Result<CertificateRecord, String> {
    match get_typed::<CertificateRecord>(view, &keys::certificate(&cref.issuer, &cref.number)) {
        None => Err(format!("certificate {} of {} does not exist", cref.number, cref.issuer)),
        Some(r) => match &r.revoked {
            Some(why) => Err(format!(
                "certificate {} of {} is revoked ({why})",
                cref.number, cref.issuer
            )),
            None => Ok(r),
        },
    }
}
