//! An item's journey as a consumer reads it, assembled from provenance pages: the item's own
//! events merged by event time with the events recorded on the containers it travelled in
//! (`ProvenanceReply::containers`), each marked with the container it was recorded on; the
//! customs status and route taken from the item or, failing that, its innermost container.
//! Shared by the CLI (`query provenance`, `verify-proof`) and the HTTP resolver page.
//!
//! Invariant: presentation only — nothing here adds or drops an event beyond showing an
//! aggregation event once when it appears in both the child's and the parent's chain.
use tradechain_proto::v1;

pub struct Journey<'a> {
    pub item: &'a v1::ProvenanceReply,
    /// (goods key the event was recorded on, "" for the item itself; the entry), oldest first.
    pub events: Vec<(&'a str, &'a v1::TimelineEntry)>,
    /// The customs status and where it was recorded ("" = the item itself).
    pub customs: Option<(&'a v1::CustomsStatus, &'a str)>,
    pub route: Option<(&'a v1::WaybillRoute, &'a str)>,
}

pub fn journey(pages: &[v1::ProvenanceReply]) -> Option<Journey<'_>> {
    let item = pages.first()?;
    let containers = &item.containers;
    let mut events: Vec<(&str, &v1::TimelineEntry)> = pages.iter().flat_map(|p| &p.timeline).map(|e| ("", e)).collect();
    for c in containers {
        events.extend(c.timeline.iter().map(|e| (c.goods_key.as_str(), e)));
    }
    events.sort_by_key(|(on, e)| (e.event_time_ms, e.location.map(|l| (l.height, l.index)), !on.is_empty()));
    events.dedup_by(|a, b| a.1.location.is_some() && a.1.location == b.1.location);
    let has = |c: &&v1::CustomsStatus| c.state() != v1::customs_status::State::None;
    let customs = item.customs.as_ref().filter(has).map(|c| (c, "")).or_else(|| {
        containers
            .iter()
            .find_map(|k| k.customs.as_ref().filter(has).map(|c| (c, k.goods_key.as_str())))
    });
    let route = item.route.as_ref().map(|r| (r, "")).or_else(|| {
        containers
            .iter()
            .find_map(|c| c.route.as_ref().map(|r| (r, c.goods_key.as_str())))
    });
    Some(Journey {
        item,
        events,
        customs,
        route,
    })
}

impl Journey<'_> {
    /// The public JSON view (the CLI's `--output json` and the resolver's `application/json`).
    pub fn to_json(&self, resolver_base: &str, verified: Option<&super::proof::Verified>) -> serde_json::Value {
        let first = self.item;
        serde_json::json!({
            "goods_key": first.goods_key,
            "digital_link": tradechain_ledger::gs1::digital_link(&first.goods_key, resolver_base),
            "chain_id": first.chain_id,
            "genesis_hash": first.genesis_hash,
            "customs": self.customs.map(|(c, _)| format!("{:?}", c.state())),
            "customs_recorded_on": self.customs.map(|(_, on)| on),
            "certificate_of_origin": first.certificate_of_origin.as_ref().map(|c| serde_json::json!({
                "state": format!("{:?}", c.state()), "issuer": c.issuer, "number": c.number,
                "origin_country": c.origin_country, "destination_country": c.destination_country })),
            "route": self.route.map(|(r, _)| serde_json::json!({ "carrier": r.carrier, "reference": r.reference,
                "mode": r.mode, "from": r.port_of_loading, "to": r.port_of_discharge, "vehicle": r.vehicle,
                "place_of_receipt": r.place_of_receipt, "place_of_delivery": r.place_of_delivery,
                "voyage": r.voyage, "status": r.status })),
            "parent": first.parent,
            "containers": first.containers.iter().map(|c| &c.goods_key).collect::<Vec<_>>(),
            "events": self.events.iter().map(|(on, e)| serde_json::json!({
                "seq": e.seq, "on": on, "time_ms": e.event_time_ms, "type": e.event_type, "biz_step": e.biz_step,
                "customs_step": e.customs_step, "where": e.unlocode, "org": e.org, "org_name": e.org_name,
                "roles": e.roles, "height": e.location.map(|l| l.height),
            })).collect::<Vec<_>>(),
            "proofs_verified": verified.map(|v| v.events),
            "complete_as_of_block": verified.map(|v| v.complete_at.0),
            "complete_as_of_time_ms": verified.map(|v| v.complete_at.1),
        })
    }
}

/// A short name for an event: "commissioning", "customs released", …
pub fn what(e: &v1::TimelineEntry) -> String {
    if e.customs_step.is_empty() {
        e.biz_step.rsplit(['-', ':', '/']).next().unwrap_or("").to_string()
    } else {
        format!("customs {}", e.customs_step)
    }
}

/// UTC, minute precision, without a date library: days since epoch → civil date.
pub fn fmt_time(ms: i64) -> String {
    let secs = ms.div_euclid(1000);
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    let (y, m, d) = tradechain_ledger::epcis::time::civil_from_days(days);
    format!("{y:04}-{m:02}-{d:02} {:02}:{:02}Z", rem / 3600, rem % 3600 / 60)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn civil_dates() {
        assert_eq!(fmt_time(0), "1970-01-01 00:00Z");
        assert_eq!(fmt_time(1_795_132_800_000), "2026-11-20 00:00Z");
        assert_eq!(fmt_time(951_782_400_000), "2000-02-29 00:00Z");
    }
}
