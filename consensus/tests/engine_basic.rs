//! Engine behaviour on a perfect in-order network: decisions, certificates, observers, junk.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::VecDeque;
use tradechain_consensus::{ConsensusMsg, Engine, EngineConfig, Input, Output, SignedVoteMsg};
use tradechain_ledger::certificate::{ValidatorInfo, VoteKind};
use tradechain_ledger::genesis::ConsensusParams;
use tradechain_ledger::identity::OrgId;
use tradechain_ledger::{Block, BlockHeader, CommitCertificate, Hash, SecretKey, Signature, ValidatorSet};

const CHAIN: &str = "unit-chain";

fn setup(n: usize) -> (Vec<SecretKey>, ValidatorSet) {
    let keys: Vec<SecretKey> = (0..n).map(|i| SecretKey::from_label(&format!("unit-{i}"))).collect();
    let vset = ValidatorSet::new(
        keys.iter()
            .enumerate()
            .map(|(i, k)| ValidatorInfo {
                org: OrgId::new(&format!("ORG{i}")).unwrap(),
                public_key: k.public(),
                power: 1,
            })
            .collect(),
    )
    .unwrap();
    (keys, vset)
}

fn block(height: u64, round: u32, proposer: &SecretKey) -> Block {
    Block {
        header: BlockHeader {
            version: 1,
            chain_id: CHAIN.into(),
            height,
            prev_hash: Hash::ZERO,
            tx_root: Hash::ZERO,
            tx_count: 0,
            results_hash: Hash::ZERO,
            time_ms: height as i64,
            proposer: proposer.public(),
            validators_hash: Hash::ZERO,
            state_hash: Hash::tagged("unit", &[height as u8, round as u8]),
        },
        txs: vec![],
    }
}

/// Run engines (index `n` is an observer) with instant delivery until each has decided `heights`.
fn run(n: usize, heights: u64) -> (Vec<Vec<(Block, CommitCertificate)>>, ValidatorSet, usize) {
    let (keys, vset) = setup(n);
    let mut engines: Vec<Engine> = (0..=n)
        .map(|i| {
            Engine::new(EngineConfig {
                chain_id: CHAIN.into(),
                secret_key: keys.get(i).cloned(),
                params: ConsensusParams::default(),
            })
        })
        .collect();
    let mut decided = vec![Vec::new(); n + 1];
    let mut queue: VecDeque<(usize, Input)> = (0..=n)
        .map(|i| {
            (
                i,
                Input::StartHeight {
                    height: 1,
                    validators: vset.clone(),
                },
            )
        })
        .collect();
    let mut observer_broadcasts = 0;
    let mut steps = 0;
    while let Some((i, input)) = queue.pop_front() {
        steps += 1;
        assert!(steps < 200_000, "no progress");
        for o in engines[i].handle(input) {
            match o {
                Output::Broadcast(m) => {
                    if i == n {
                        observer_broadcasts += 1;
                    }
                    for j in 0..=n {
                        if j != i {
                            queue.push_back((j, Input::Message(m.clone())));
                        }
                    }
                }
                Output::BuildBlock { height, round } => queue.push_back((
                    i,
                    Input::ProposedBlock {
                        height,
                        round,
                        block: block(height, round, &keys[i]),
                    },
                )),
                Output::ValidateBlock { height, round, block } => queue.push_back((
                    i,
                    Input::BlockValidity {
                        height,
                        round,
                        block_hash: block.hash(),
                        valid: true,
                    },
                )),
                Output::Decided { block, certificate } => {
                    let h = block.header.height;
                    decided[i].push((block, certificate));
                    if h < heights {
                        queue.push_back((
                            i,
                            Input::StartHeight {
                                height: h + 1,
                                validators: vset.clone(),
                            },
                        ));
                    }
                }
                // No timeouts are needed on a perfect network; none are fired.
                Output::ScheduleTimeout { .. }
                | Output::PersistWal(_)
                | Output::Equivocation { .. }
                | Output::RoundStarted { .. } => {}
            }
        }
    }
    (decided, vset, observer_broadcasts)
}

#[test]
fn four_validators_and_an_observer_decide_with_verifying_certificates() {
    let (decided, vset, observer_broadcasts) = run(4, 3);
    for d in &decided {
        assert_eq!(d.len(), 3, "every engine (observer included) decides 3 heights");
    }
    for h in 0..3 {
        let hash = decided[0][h].0.hash();
        for d in &decided {
            assert_eq!(d[h].0.hash(), hash, "agreement at height {}", h + 1);
            d[h].1.verify(CHAIN, h as u64 + 1, &hash, &vset).unwrap();
        }
    }
    assert_eq!(observer_broadcasts, 0, "an observer never signs or sends");
}

#[test]
fn seven_validators_decide() {
    let (decided, vset, _) = run(7, 2);
    for d in &decided {
        assert_eq!(d.len(), 2);
        d[1].1.verify(CHAIN, 2, &d[1].0.hash(), &vset).unwrap();
    }
}

#[test]
fn junk_votes_are_ignored_and_not_persisted() {
    let (keys, vset) = setup(4);
    let mut e = Engine::new(EngineConfig {
        chain_id: CHAIN.into(),
        secret_key: Some(keys[0].clone()),
        params: ConsensusParams::default(),
    });
    e.handle(Input::StartHeight {
        height: 1,
        validators: vset,
    });
    let bad = SignedVoteMsg {
        height: 1,
        round: 0,
        kind: VoteKind::Prevote,
        block_hash: None,
        validator: keys[1].public(),
        signature: Signature([3u8; 64]),
    };
    let outs = e.handle(Input::Message(ConsensusMsg::Vote(bad)));
    assert!(outs.is_empty(), "a badly signed vote produced {outs:?}");
    let stranger = SecretKey::from_label("stranger");
    let msg = tradechain_ledger::certificate::vote_sign_bytes(CHAIN, VoteKind::Prevote, 1, 0, None);
    let unknown = SignedVoteMsg {
        height: 1,
        round: 0,
        kind: VoteKind::Prevote,
        block_hash: None,
        validator: stranger.public(),
        signature: stranger.sign(&msg),
    };
    assert!(e.handle(Input::Message(ConsensusMsg::Vote(unknown))).is_empty());
    let good = SignedVoteMsg {
        height: 1,
        round: 0,
        kind: VoteKind::Prevote,
        block_hash: None,
        validator: keys[1].public(),
        signature: keys[1].sign(&msg),
    };
    let outs = e.handle(Input::Message(ConsensusMsg::Vote(good)));
    assert!(
        outs.iter().any(|o| matches!(o, Output::PersistWal(_))),
        "a valid vote is persisted"
    );
}

#[test]
fn wire_messages_roundtrip_through_borsh() {
    let (keys, _) = setup(4);
    let v = ConsensusMsg::Vote(SignedVoteMsg {
        height: 9,
        round: 2,
        kind: VoteKind::Precommit,
        block_hash: Some(Hash::tagged("x", b"y")),
        validator: keys[0].public(),
        signature: Signature([1u8; 64]),
    });
    let bytes = borsh::to_vec(&v).unwrap();
    let back: ConsensusMsg = borsh::from_slice(&bytes).unwrap();
    assert_eq!(back, v);
}

/// A proposer cannot pass off a block as another validator's: the round's rightful proposer signs
/// a proposal whose block names someone else as its builder, and the engine does not even ask
/// its host to validate it; the same proposal naming itself is taken up.
#[test]
fn a_block_naming_another_builder_is_not_taken_up() {
    let (keys, vset) = setup(4);
    let proposer_pk = vset.validators[tradechain_consensus::context::proposer_index(4, 1, 0)].public_key;
    let proposer = keys.iter().find(|k| k.public() == proposer_pk).unwrap();
    let other = keys.iter().find(|k| k.public() != proposer_pk).unwrap();
    let judge = keys
        .iter()
        .find(|k| k.public() != proposer_pk && k.public() != other.public())
        .unwrap();
    let proposal_for = |named: &SecretKey| {
        let b = block(1, 0, named);
        let msg = tradechain_ledger::certificate::proposal_sign_bytes(CHAIN, 1, 0, None, b.hash());
        ConsensusMsg::Proposal {
            proposal: tradechain_consensus::SignedProposalMsg {
                height: 1,
                round: 0,
                pol_round: None,
                block_hash: b.hash(),
                proposer: proposer.public(),
                signature: proposer.sign(&msg),
            },
            block: b,
        }
    };
    let engine = || {
        let mut e = Engine::new(EngineConfig {
            chain_id: CHAIN.into(),
            secret_key: Some(judge.clone()),
            params: ConsensusParams::default(),
        });
        e.handle(Input::StartHeight {
            height: 1,
            validators: vset.clone(),
        });
        e
    };
    let asks_validation = |outs: &[Output]| outs.iter().any(|o| matches!(o, Output::ValidateBlock { .. }));
    let outs = engine().handle(Input::Message(proposal_for(other)));
    assert!(
        !asks_validation(&outs),
        "a block naming another builder was taken up: {outs:?}"
    );
    let outs = engine().handle(Input::Message(proposal_for(proposer)));
    assert!(asks_validation(&outs), "the honest proposal is taken up: {outs:?}");
}
