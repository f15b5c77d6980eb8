//! Certificates of origin.
//!
//! Invariants enforced:
//! - **Entitlement to issue**: the issuer is a chamber of commerce or customs authority *of the
//!   exporting country*: it holds the chamber or customs role, and its country (`Org.country`)
//!   equals both the certificate's `origin_country` and its `exporter.country`. The number is
//!   unique per issuer; countries are ISO 3166; the HS code is 6 digits with an optional
//!   national extension; goods ids are GS1 keys, and a certificate covers at least one.
//! - **At most one valid certificate per goods item at a time**: `keys::certificate_goods(goods)`
//!   holds the `CertificateRef` of the item's valid certificate; issuing another certificate
//!   covering the item (by any issuer) is refused until that one is revoked. Revocation frees the
//!   index entries of the revoked certificate's goods.
//! - Issuing also links each covered goods item (`ItemRecord.certificate`) so customs rules can
//!   find the certificate of an item; the item's event chain is not touched.
//! - Revocation only by the issuer, once: a certificate is addressed by `(sender, number)`, so an
//!   org can only ever name certificates it issued itself; a revoked certificate stays on the
//!   ledger, flagged with the reason (never deleted).
//!
//! | rule id | who may | what is refused |
//! |---|---|---|
//! | `membership.role` | chambers of commerce and customs | issuing by any other org |
//! | `certificate.origin_mismatch` | an issuer whose country is the origin country | `origin_country` other than the issuer's country |
//! | `certificate.exporter_mismatch` | an issuer whose country is the exporting country | `exporter.country` other than the issuer's country |
//! | `certificate.no_goods` | — | a certificate covering no goods item |
//! | `certificate.duplicate` | — | a second certificate with the same number from the same issuer |
//! | `certificate.goods_certified` | — | a certificate for goods that already carry a valid certificate (any issuer), until it is revoked |
//! | `certificate.not_found` | the issuer | revoking a number the sender did not issue (another org's certificate included) |
//! | `certificate.revoked` | — | revoking a revoked certificate again |
//! | `codes.country`, `codes.hs_code`, `gs1.invalid_key` | — | malformed countries, HS code, goods ids |
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
                if doc.exporter.country != ctx.sender.country {
                    return reject(
                        "certificate.exporter_mismatch",
                        format!(
                            "exporter.country {} differs from the issuing authority {me}'s country {}: only the exporting country's authority may certify",
                            doc.exporter.country, ctx.sender.country
                        ),
                    );
                }
                hs_code("hs_code", &doc.hs_code)?;
                if doc.goods_ids.is_empty() {
                    return reject(
                        "certificate.no_goods",
                        format!("certificate {} covers no goods: goods_ids is empty", doc.number),
                    );
                }
                let mut goods = Vec::with_capacity(doc.goods_ids.len());
                for (i, id) in doc.goods_ids.iter().enumerate() {
                    goods.push((gs1_key(&format!("goods_ids[{i}]"), id)?, i));
                }
                let key = keys::certificate(me, &doc.number);
                if view.get(&key).is_some() {
                    return reject(
                        "certificate.duplicate",
                        format!("issuer {me} already issued certificate {}", doc.number),
                    );
                }
                for (g, i) in &goods {
                    if let Some(held) = get_typed::<CertificateRef>(view, &keys::certificate_goods(g))
                        && certificate_valid(view, &held).is_ok()
                    {
                        return reject(
                            "certificate.goods_certified",
                            format!(
                                "goods_ids[{i}] {} already carries valid certificate {} of {}; it must be revoked first",
                                doc.goods_ids.get(*i).map(String::as_str).unwrap_or(g),
                                held.number,
                                held.issuer
                            ),
                        );
                    }
                }
                let cref = CertificateRef {
                    issuer: me.clone(),
                    number: doc.number.clone(),
                };
                let mut goods: Vec<String> = goods.into_iter().map(|(g, _)| g).collect();
                goods.sort();
                goods.dedup();
                for g in goods {
                    w.put(keys::certificate_goods(&g), &cref);
                    let mut item =
                        get_typed::<ItemRecord>(view, &keys::item(&g)).unwrap_or_else(|| ItemRecord::new(&g));
                    item.certificate = Some(cref.clone());
                    item.write(&mut w);
                }
                CertificateRecord {
                    issuer: me.clone(),
                    document: doc.clone(),
                    revoked: None,
                    version: 1,
                    issued_at: ctx.at,
                    updated_at: ctx.at,
                }
                .write(&mut w);
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
                let cref = CertificateRef {
                    issuer: me.clone(),
                    number: number.clone(),
                };
                for id in &rec.document.goods_ids {
                    // Ids were checked on issue; one that no longer parses has no entry.
                    let Ok(g) = crate::gs1::goods_key(id) else {
                        continue;
                    };
                    let gk = keys::certificate_goods(&g);
                    if get_typed::<CertificateRef>(view, &gk).as_ref() == Some(&cref) {
                        w.delete(gk);
                    }
                }
                rec.revoked = Some(reason.clone());
                rec.version = rec.version.saturating_add(1);
                rec.updated_at = ctx.at;
                rec.write(&mut w);
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
