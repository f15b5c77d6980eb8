//! Every unary RPC of the transaction, document, chain and node services against a real tonic
//! server on 127.0.0.1, with every status code the API promises.
#![allow(clippy::unwrap_used, clippy::expect_used)]
mod grpc_common;

use grpc_common::{signed, signed_at, start, start_with};
use tonic::{Code, Request};
use tradechain_ledger::block::BlockHeader;
use tradechain_ledger::certificate::CommitCertificate;
use tradechain_ledger::codec::{decode, encode};
use tradechain_ledger::hash::Hash;
use tradechain_ledger::identity::OrgId;
use tradechain_ledger::payload::{Payload, SettlementOp};
use tradechain_ledger::tx::{SignedTransaction, TX_VERSION, Transaction};
use tradechain_node::clock::now_ms;
use tradechain_node::grpc::backend::{NodeRole, SyncInfo};
use tradechain_node::grpc::scenario::{self, CHAIN_ID, Scenario, key_of};
use tradechain_node::grpc::status::rejection_of;
use tradechain_node::grpc::{Backend, ServerLimits, auth};
use tradechain_proto::v1::{
    self, block_request::At, document_id, list_documents_request::Selector, transaction_status::State,
};

fn confirm(id: &str) -> Payload {
    Payload::Settlement(SettlementOp::Confirm {
        payer_bank: tradechain_ledger::OrgId::new("BANK-NL").unwrap(),
        settlement_id: id.into(),
    })
}

fn submit_req(stx: &SignedTransaction) -> v1::SubmitRequest {
    v1::SubmitRequest { signed_tx: encode(stx) }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn node_status_reports_chain_head_and_validators() {
    let env = start(Scenario::trade()).await;
    let st = env
        .node()
        .get_status(v1::GetStatusRequest {})
        .await
        .unwrap()
        .into_inner();
    let head = env.scenario.backend.head().unwrap().unwrap();
    assert_eq!(st.chain_id, CHAIN_ID);
    assert_eq!(st.height, 5);
    assert_eq!(st.head_hash, head.block_hash.to_hex());
    assert_eq!(st.state_hash, head.state_hash.to_hex());
    assert_eq!(st.genesis_hash, scenario::genesis().hash().to_hex());
    assert_eq!(st.role, "validator");
    assert_eq!(st.validators.len(), 4);
    assert!(st.validators.iter().all(|v| v.power == 1));
    assert!(!st.sync.unwrap().syncing);
    assert_eq!(st.version, env!("CARGO_PKG_VERSION"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn submit_then_wait_for_commit() {
    let mut env = start(Scenario::trade()).await;
    let stx = env.scenario.sign("PRODUCER-FZ", confirm("X-1"));
    let id = env.tx().submit(submit_req(&stx)).await.unwrap().into_inner().tx_id;
    assert_eq!(id, stx.id().to_hex());
    let st = env
        .tx()
        .get_transaction(v1::GetTransactionRequest {
            tx_id: id.clone(),
            include_tx: false,
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(st.state, State::Pending as i32);
    assert!(st.location.is_none());

    let mut client = env.tx();
    let wait_id = id.clone();
    let waiter = tokio::spawn(async move {
        client
            .wait_for_commit(v1::WaitForCommitRequest {
                tx_id: wait_id,
                timeout_ms: 0,
            })
            .await
    });
    let block_hash = env.scenario.backend.commit_executed(env.scenario.now()).unwrap();
    let st = waiter.await.unwrap().unwrap().into_inner();
    // The validators ran it: a producer confirming a settlement is committed as rejected.
    assert_eq!(st.state, State::Rejected as i32);
    assert_eq!(st.location.unwrap(), v1::TxLocation { height: 6, index: 0 });
    assert_eq!(st.block_hash, block_hash.to_hex());

    // include_tx: a settlement's bytes are nobody's business but its parties'. Unsigned, or
    // signed by a member that is not a party: PERMISSION_DENIED naming include_tx.
    let ask = |who: Option<&str>| {
        let msg = v1::GetTransactionRequest {
            tx_id: id.clone(),
            include_tx: true,
        };
        match who {
            None => Request::new(msg),
            Some(w) => signed(msg, w, "TransactionService/GetTransaction"),
        }
    };
    for who in [None, Some("PORT-NLRTM"), Some("BANK-CN")] {
        let e = env.tx().get_transaction(ask(who)).await.unwrap_err();
        assert_eq!(e.code(), Code::PermissionDenied, "{who:?}: {e:?}");
        assert!(e.message().starts_with("include_tx:"), "{}", e.message());
    }
    // A forged signature is UNAUTHENTICATED, not silently public.
    let mut forged = ask(Some("PRODUCER-FZ"));
    forged.metadata_mut().insert(auth::ORG, "REGULATOR-EU".parse().unwrap());
    assert_eq!(
        env.tx().get_transaction(forged).await.unwrap_err().code(),
        Code::Unauthenticated
    );
    // The sender and a regulator get the exact signed bytes.
    for who in ["PRODUCER-FZ", "REGULATOR-EU"] {
        let st = env.tx().get_transaction(ask(Some(who))).await.unwrap().into_inner();
        assert_eq!(decode::<SignedTransaction>(&st.signed_tx).unwrap(), stx);
        assert!(st.tx_json.contains("X-1"));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn submit_maps_every_failure_to_its_status() {
    let mut env = start(Scenario::trade()).await;
    let mut c = env.tx();

    let e = c.submit(v1::SubmitRequest { signed_tx: vec![] }).await.unwrap_err();
    assert_eq!(e.code(), Code::InvalidArgument);
    assert!(e.message().starts_with("signed_tx:"), "{}", e.message());

    let e = c
        .submit(v1::SubmitRequest { signed_tx: vec![7; 40] })
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::InvalidArgument);
    assert!(e.message().contains("does not decode"), "{}", e.message());

    let mut other = Transaction {
        version: TX_VERSION,
        chain_id: "other-chain".into(),
        sender: OrgId::new("PRODUCER-FZ").unwrap(),
        key_id: 1,
        nonce: 1,
        time_ms: 1,
        payload: confirm("X"),
    };
    let e = c
        .submit(submit_req(&other.clone().sign(&key_of("PRODUCER-FZ"))))
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::InvalidArgument);
    assert!(e.message().starts_with("signed_tx.tx.chain_id:"), "{}", e.message());

    other.chain_id = CHAIN_ID.into();
    let mut forged = other.clone().sign(&key_of("PRODUCER-FZ"));
    forged.signature.0[5] ^= 1;
    let e = c.submit(submit_req(&forged)).await.unwrap_err();
    assert_eq!(e.code(), Code::InvalidArgument);
    assert!(e.message().starts_with("signed_tx.signature:"), "{}", e.message());

    let mut stranger = other.clone();
    stranger.sender = OrgId::new("NOBODY").unwrap();
    let e = c
        .submit(submit_req(&stranger.sign(&key_of("NOBODY"))))
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::FailedPrecondition);
    let r = rejection_of(&e).expect("rejection in details");
    assert_eq!(r.rule, "membership.unknown_sender");
    assert_eq!(e.metadata().get("x-tc-rule").unwrap(), "membership.unknown_sender");

    // A nonce already used (the scenario's producer has sent several transactions).
    let e = c
        .submit(submit_req(&other.clone().sign(&key_of("PRODUCER-FZ"))))
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::FailedPrecondition);
    assert_eq!(rejection_of(&e).unwrap().rule, "membership.nonce");
    assert!(e.message().contains("membership.nonce"));
    // The refusal is remembered: GetTransaction reports it as rejected.
    let st = c
        .get_transaction(v1::GetTransactionRequest {
            tx_id: other.clone().sign(&key_of("PRODUCER-FZ")).id().to_hex(),
            include_tx: false,
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(st.state, State::Rejected as i32);
    assert_eq!(st.rejection.unwrap().rule, "membership.nonce");

    env.scenario.backend.set_mempool_capacity(0);
    let fresh = env.scenario.sign("BANK-CN", confirm("Y"));
    let e = c.submit(submit_req(&fresh)).await.unwrap_err();
    assert_eq!(e.code(), Code::ResourceExhausted);
    assert!(e.message().contains("retry"));

    env.scenario.backend.set_mempool_capacity(10);
    env.scenario.backend.set_node_info(
        NodeRole::Observer,
        vec![],
        SyncInfo {
            syncing: true,
            target_height: 99,
        },
    );
    let e = c.submit(submit_req(&fresh)).await.unwrap_err();
    assert_eq!(e.code(), Code::Unavailable);
    assert!(e.message().contains("syncing"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn get_transaction_committed_rejected_unknown_and_bad_id() {
    let env = start(Scenario::trade()).await;
    let b = &env.scenario.backend;
    let mut c = env.tx();
    let block2 = b.block(2).unwrap().unwrap();
    let accepted = block2.txs[0].id();
    let rejected = block2.txs[1].id();
    let st = c
        .get_transaction(v1::GetTransactionRequest {
            tx_id: accepted.to_hex(),
            include_tx: false,
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(st.state, State::Committed as i32);
    assert_eq!(st.location.unwrap(), v1::TxLocation { height: 2, index: 0 });
    assert_eq!(st.block_hash, block2.hash().to_hex());

    let st = c
        .get_transaction(v1::GetTransactionRequest {
            tx_id: rejected.to_hex(),
            include_tx: false,
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(st.state, State::Rejected as i32);
    assert_eq!(st.rejection.unwrap().rule, scenario::REJECTED_RULE);
    assert_eq!(st.location.unwrap(), v1::TxLocation { height: 2, index: 1 });

    let e = c
        .get_transaction(v1::GetTransactionRequest {
            tx_id: Hash::tagged("x", b"y").to_hex(),
            include_tx: false,
        })
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::NotFound);

    let e = c
        .get_transaction(v1::GetTransactionRequest {
            tx_id: "zz".into(),
            include_tx: false,
        })
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::InvalidArgument);
    assert!(e.message().starts_with("tx_id:"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wait_for_commit_deadline_exceeded() {
    let env = start(Scenario::trade()).await;
    let e = env
        .tx()
        .wait_for_commit(v1::WaitForCommitRequest {
            tx_id: Hash::tagged("never", b"submitted").to_hex(),
            timeout_ms: 50,
        })
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::DeadlineExceeded);

    // The caller's own deadline (grpc-timeout) also ends in DEADLINE_EXCEEDED, not CANCELLED.
    let mut r = Request::new(v1::WaitForCommitRequest {
        tx_id: Hash::tagged("never", b"submitted").to_hex(),
        timeout_ms: 0,
    });
    r.set_timeout(std::time::Duration::from_millis(200));
    let e = env.tx().wait_for_commit(r).await.unwrap_err();
    assert_eq!(e.code(), Code::DeadlineExceeded, "{e:?}");
}

/// A transaction the node does not know (lost in a crash before it was acknowledged, expired
/// behind a missing nonce, or never sent) is NOT_FOUND after the grace, not a silent wait: that
/// answer is what clients resubmit on.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wait_for_commit_says_unknown_so_the_client_submits_again() {
    let env = start(Scenario::trade()).await;
    let e = env
        .tx()
        .wait_for_commit(v1::WaitForCommitRequest {
            tx_id: Hash::tagged("never", b"submitted").to_hex(),
            timeout_ms: 20_000,
        })
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::NotFound, "{e:?}");
    assert!(e.message().contains("submit it again"), "{}", e.message());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chain_blocks_and_headers() {
    let env = start(Scenario::trade()).await;
    let b = &env.scenario.backend;
    let mut c = env.chain();
    let set = scenario::genesis().validator_set().unwrap();

    let by_height = c
        .get_block(signed(
            v1::BlockRequest {
                at: Some(At::Height(3)),
            },
            "REGULATOR-EU",
            "ChainService/GetBlock",
        ))
        .await
        .unwrap()
        .into_inner();
    let hash = b.block(3).unwrap().unwrap().hash();
    assert_eq!(by_height.header.as_ref().unwrap().block_hash, hash.to_hex());
    assert_eq!(
        decode::<tradechain_ledger::Block>(&by_height.block_borsh).unwrap(),
        b.block(3).unwrap().unwrap()
    );
    assert!(
        by_height
            .txs
            .iter()
            .all(|t| !t.withheld && t.signed_tx_borsh.is_empty()),
        "the whole block already carries every transaction's bytes"
    );

    // Block 3 holds the eBL issue and the banks' settlement instruction: a port is party to
    // neither and gets only leaf hashes (which still rebuild the tx root); a bank of the
    // settlement gets the instruction but not the bill it is not named on.
    let block3 = b.block(3).unwrap().unwrap();
    let as_seen_by = |who: &'static str| {
        let mut c = env.chain();
        async move {
            c.get_block(signed(
                v1::BlockRequest {
                    at: Some(At::Height(3)),
                },
                who,
                "ChainService/GetBlock",
            ))
            .await
            .unwrap()
            .into_inner()
        }
    };
    let port = as_seen_by("PORT-NLRTM").await;
    assert!(port.block_borsh.is_empty(), "no whole block for a non-party");
    assert!(port.txs.iter().all(|t| t.withheld && t.signed_tx_borsh.is_empty()));
    let leaves: Vec<Hash> = port
        .txs
        .iter()
        .map(|t| Hash(t.leaf_hash.as_slice().try_into().unwrap()))
        .collect();
    assert_eq!(
        tradechain_ledger::merkle::root_from_leaf_hashes(&leaves),
        block3.header.tx_root
    );
    let bank = as_seen_by("BANK-CN").await;
    let seen: Vec<bool> = bank.txs.iter().map(|t| !t.withheld).collect();
    let expect: Vec<bool> = block3
        .txs
        .iter()
        .map(|t| matches!(t.tx().payload, Payload::Settlement(_)))
        .collect();
    assert_eq!(seen, expect, "BANK-CN sees the settlement only");
    for t in bank.txs.iter().filter(|t| !t.withheld) {
        let stx: SignedTransaction = decode(&t.signed_tx_borsh).unwrap();
        assert_eq!(stx, block3.txs[t.index as usize]);
    }
    let cert: CommitCertificate = decode(&by_height.commit_certificate_borsh).unwrap();
    cert.verify(CHAIN_ID, 3, &hash, &set).unwrap();
    assert_eq!(by_height.outcomes.len(), 2);
    assert!(by_height.outcomes.iter().all(|o| o.accepted));

    let by_hash = c
        .get_block(signed(
            v1::BlockRequest {
                at: Some(At::Hash(hash.to_hex())),
            },
            "REGULATOR-EU",
            "ChainService/GetBlock",
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(by_hash, by_height);

    // Block 2 holds a rejected transaction.
    let b2 = c
        .get_block(signed(
            v1::BlockRequest {
                at: Some(At::Height(2)),
            },
            "BANK-CN",
            "ChainService/GetBlock",
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(b2.outcomes[1].rejection.as_ref().unwrap().rule, scenario::REJECTED_RULE);

    // Headers are public.
    let h = c
        .get_header(v1::BlockRequest {
            at: Some(At::Height(5)),
        })
        .await
        .unwrap()
        .into_inner();
    let header: BlockHeader = decode(&h.header.as_ref().unwrap().header_borsh).unwrap();
    assert_eq!(header.height, 5);
    assert_eq!(header.prev_hash, b.block(4).unwrap().unwrap().hash());

    for (at, code, field) in [
        (None, Code::InvalidArgument, "at:"),
        (Some(At::Height(0)), Code::InvalidArgument, "height:"),
        (Some(At::Hash("abc".into())), Code::InvalidArgument, "hash:"),
        (Some(At::Height(99)), Code::NotFound, ""),
        (Some(At::Hash(Hash::ZERO.to_hex())), Code::NotFound, ""),
    ] {
        let e = c.get_header(v1::BlockRequest { at }).await.unwrap_err();
        assert_eq!(e.code(), code);
        assert!(e.message().starts_with(field), "{}", e.message());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn member_reads_need_valid_authentication() {
    let env = start(Scenario::trade()).await;
    let mut c = env.chain();
    let req = || v1::BlockRequest {
        at: Some(At::Height(1)),
    };
    let method = "ChainService/GetBlock";

    let e = c.get_block(req()).await.unwrap_err();
    assert_eq!(e.code(), Code::Unauthenticated);
    assert!(e.message().contains("x-tc-org"), "{}", e.message());

    // Signed for another method: the signature does not verify.
    let e = c
        .get_block(signed(req(), "BANK-CN", "ChainService/StreamBlocks"))
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::Unauthenticated);
    assert!(e.message().contains("x-tc-signature"));

    // Signed over other arguments.
    let mut r = signed(
        v1::BlockRequest {
            at: Some(At::Height(2)),
        },
        "BANK-CN",
        method,
    );
    *r.get_mut() = req();
    assert_eq!(c.get_block(r).await.unwrap_err().code(), Code::Unauthenticated);

    // Outside the time window.
    let e = c
        .get_block(signed_at(req(), "BANK-CN", method, now_ms() - 3_600_000))
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::Unauthenticated);
    assert!(e.message().contains("x-tc-time-ms"));

    // Not a member.
    let e = c.get_block(signed(req(), "NOBODY", method)).await.unwrap_err();
    assert_eq!(e.code(), Code::Unauthenticated);
    assert!(e.message().contains("not a current member"));

    // The right key signed by someone else's key.
    let mut r = signed(req(), "BANK-CN", method);
    let forged = signed(req(), "BANK-NL", method);
    r.metadata_mut()
        .insert(auth::SIGNATURE, forged.metadata().get(auth::SIGNATURE).unwrap().clone());
    assert_eq!(c.get_block(r).await.unwrap_err().code(), Code::Unauthenticated);

    assert!(c.get_block(signed(req(), "BANK-CN", method)).await.is_ok());
}

fn wb_id() -> v1::WaybillId {
    v1::WaybillId {
        carrier: "CARRIER-COSCO".into(),
        reference: scenario::WAYBILL_REF.into(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn documents_are_filtered_by_role() {
    let env = start(Scenario::trade()).await;
    let mut d = env.docs();
    let get_wb = |who: &str| {
        signed(
            v1::GetWaybillRequest { id: Some(wb_id()) },
            who,
            "DocumentService/GetWaybill",
        )
    };

    // The holder, the carrier, customs and the regulator see the eBL with its endorsement chain.
    for who in [
        "IMPORTER-NL",
        "CARRIER-COSCO",
        "CUSTOMS-CN",
        "REGULATOR-EU",
        "PRODUCER-FZ",
    ] {
        let w = d.get_waybill(get_wb(who)).await.unwrap().into_inner();
        assert_eq!(w.holder, "IMPORTER-NL", "{who}");
        assert_eq!(w.status, "ISSUED");
        assert_eq!(w.endorsements.len(), 1);
        assert_eq!(
            (w.endorsements[0].from.as_str(), w.endorsements[0].to.as_str()),
            ("PRODUCER-FZ", "IMPORTER-NL")
        );
        assert_eq!(w.version, 2);
        assert_eq!(
            (w.port_of_loading.as_str(), w.port_of_discharge.as_str()),
            ("CNFOC", "NLRTM")
        );
        // The same bill in DCSA eBL 3.0 shape: status and endorsement chain (newest first).
        let dcsa = tradechain_ledger::dcsa::json::parse(&w.dcsa_json).unwrap();
        assert_eq!(
            dcsa.get("transportDocumentStatus").and_then(|s| s.as_str()),
            Some("ISSUED")
        );
        let td = dcsa.get("transportDocument").unwrap();
        assert_eq!(td.get("isToOrder"), Some(&tradechain_ledger::dcsa::Json::Bool(true)));
        let codes: Vec<String> =
            tradechain_ledger::dcsa::export::chains(&[serde_json::from_str(&w.record_json).unwrap()])[0]
                .actions
                .iter()
                .map(|a| a.code.to_string())
                .collect();
        assert_eq!(codes, ["ISSUE", "ENDORSE", "TRANSFER"]);
        for code in [
            "\"ISSUE\"",
            "\"ENDORSE\"",
            "\"TRANSFER\"",
            "\"PRODUCER-FZ\"",
            "\"IMPORTER-NL\"",
        ] {
            assert!(w.dcsa_json.contains(code), "{code} in {}", w.dcsa_json);
        }
    }
    for who in ["BANK-CN", "PORT-NLRTM", "CHAMBER-CN"] {
        let e = d.get_waybill(get_wb(who)).await.unwrap_err();
        assert_eq!(e.code(), Code::PermissionDenied, "{who}");
    }

    let get_set = |who: &str| {
        signed(
            v1::GetSettlementRequest {
                settlement_id: scenario::SETTLEMENT_ID.into(),
            },
            who,
            "DocumentService/GetSettlement",
        )
    };
    for who in ["BANK-CN", "BANK-NL", "REGULATOR-EU"] {
        let s = d.get_settlement(get_set(who)).await.unwrap().into_inner();
        assert_eq!(s.amount_minor, scenario::AMOUNT_MINOR);
        assert_eq!(s.currency, "EUR");
        assert_eq!(s.status, "confirmed");
        assert_eq!(s.version, 2);
    }
    for who in ["CUSTOMS-CN", "IMPORTER-NL", "CARRIER-COSCO"] {
        assert_eq!(
            d.get_settlement(get_set(who)).await.unwrap_err().code(),
            Code::PermissionDenied,
            "{who}"
        );
    }

    let get_cert = |who: &str| {
        signed(
            v1::GetCertificateRequest {
                id: Some(v1::CertificateId {
                    issuer: "CHAMBER-CN".into(),
                    number: scenario::CERT_NO.into(),
                }),
            },
            who,
            "DocumentService/GetCertificate",
        )
    };
    for who in ["CHAMBER-CN", "CUSTOMS-CN", "PRODUCER-FZ", "IMPORTER-NL", "REGULATOR-EU"] {
        let c = d.get_certificate(get_cert(who)).await.unwrap().into_inner();
        assert!(!c.revoked);
        assert_eq!((c.origin_country.as_str(), c.hs_code.as_str()), ("CN", "090210"));
    }
    assert_eq!(
        d.get_certificate(get_cert("BANK-NL")).await.unwrap_err().code(),
        Code::PermissionDenied
    );

    // Errors: unauthenticated, bad id fields, missing documents.
    let e = d
        .get_waybill(Request::new(v1::GetWaybillRequest { id: Some(wb_id()) }))
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::Unauthenticated);
    let e = d
        .get_waybill(signed(
            v1::GetWaybillRequest {
                id: Some(v1::WaybillId {
                    carrier: "cosco".into(),
                    reference: "X".into(),
                }),
            },
            "REGULATOR-EU",
            "DocumentService/GetWaybill",
        ))
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::InvalidArgument);
    assert!(e.message().starts_with("id.carrier:"), "{}", e.message());
    let e = d
        .get_waybill(signed(
            v1::GetWaybillRequest {
                id: Some(v1::WaybillId {
                    carrier: "CARRIER-COSCO".into(),
                    reference: "NOPE".into(),
                }),
            },
            "REGULATOR-EU",
            "DocumentService/GetWaybill",
        ))
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::NotFound);
}

fn list(sel: Selector, who: &str) -> Request<v1::ListDocumentsRequest> {
    signed(
        v1::ListDocumentsRequest {
            selector: Some(sel),
            page_size: 0,
            page_token: String::new(),
        },
        who,
        "DocumentService/ListDocuments",
    )
}

fn kinds(r: &v1::ListDocumentsReply) -> Vec<&str> {
    r.documents.iter().map(|d| d.kind.as_str()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn list_documents_and_history() {
    let env = start(Scenario::trade()).await;
    let mut d = env.docs();

    let r = d
        .list_documents(list(Selector::Party("IMPORTER-NL".into()), "REGULATOR-EU"))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(kinds(&r), ["waybill", "certificate"]);
    // A bank listing the importer's documents sees none of them.
    let r = d
        .list_documents(list(Selector::Party("IMPORTER-NL".into()), "BANK-NL"))
        .await
        .unwrap()
        .into_inner();
    assert!(r.documents.is_empty());
    let r = d
        .list_documents(list(Selector::Party("BANK-NL".into()), "BANK-NL"))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(kinds(&r), ["settlement"]);
    let r = d
        .list_documents(list(Selector::Reference(scenario::WAYBILL_REF.into()), "REGULATOR-EU"))
        .await
        .unwrap()
        .into_inner();
    // The settlement finances the invoice, not the bill (a bank finances a bill only while it
    // holds it, and the bill goes from the shipper to the importer).
    assert_eq!(kinds(&r), ["waybill"]);
    let r = d
        .list_documents(list(Selector::GoodsId(scenario::PALLET_URN.into()), "CUSTOMS-CN"))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(kinds(&r), ["waybill"]);
    let r = d
        .list_documents(list(Selector::GoodsId(scenario::ITEM_LINK.into()), "CUSTOMS-CN"))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(kinds(&r), ["certificate"]);

    // Pagination: one per page.
    let mut req = v1::ListDocumentsRequest {
        selector: Some(Selector::Party("IMPORTER-NL".into())),
        page_size: 1,
        page_token: String::new(),
    };
    let p1 = d
        .list_documents(signed(req.clone(), "REGULATOR-EU", "DocumentService/ListDocuments"))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(kinds(&p1), ["waybill"]);
    req.page_token = p1.next_page_token;
    let p2 = d
        .list_documents(signed(req, "REGULATOR-EU", "DocumentService/ListDocuments"))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(kinds(&p2), ["certificate"]);
    assert!(p2.next_page_token.is_empty());

    let e = d
        .list_documents(signed(
            v1::ListDocumentsRequest::default(),
            "REGULATOR-EU",
            "DocumentService/ListDocuments",
        ))
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::InvalidArgument);
    assert!(e.message().starts_with("selector:"));

    let hist = |id: document_id::Id, who: &str| {
        signed(
            v1::GetHistoryRequest {
                id: Some(v1::DocumentId { id: Some(id) }),
            },
            who,
            "DocumentService/GetHistory",
        )
    };
    let h = d
        .get_history(hist(document_id::Id::Waybill(wb_id()), "IMPORTER-NL"))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(h.versions.iter().map(|v| v.version).collect::<Vec<_>>(), [1, 2]);
    assert!(h.versions[0].record_json.contains("\"holder\":\"PRODUCER-FZ\""));
    assert!(h.versions[1].record_json.contains("\"holder\":\"IMPORTER-NL\""));
    let h = d
        .get_history(hist(
            document_id::Id::SettlementId(scenario::SETTLEMENT_ID.into()),
            "BANK-CN",
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        h.versions.iter().map(|v| v.status.as_str()).collect::<Vec<_>>(),
        ["instructed", "confirmed"]
    );
    let e = d
        .get_history(hist(
            document_id::Id::SettlementId(scenario::SETTLEMENT_ID.into()),
            "CUSTOMS-CN",
        ))
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::PermissionDenied);
    let e = d
        .get_history(hist(document_id::Id::SettlementId("NONE".into()), "REGULATOR-EU"))
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::NotFound);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn message_size_limit_is_enforced() {
    let limits = ServerLimits {
        max_message_bytes: 1024,
        ..ServerLimits::default()
    };
    let env = start_with(Scenario::trade(), limits).await;
    let e = env
        .tx()
        .submit(v1::SubmitRequest {
            signed_tx: vec![0; 4096],
        })
        .await
        .unwrap_err();
    // tonic reports an over-limit message as OUT_OF_RANGE.
    assert_eq!(e.code(), Code::OutOfRange, "{e:?}");
    assert!(e.message().contains("too large"));
}
