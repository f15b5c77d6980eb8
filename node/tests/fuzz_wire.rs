//! Fuzz targets for every message a peer can send a node (stable toolchain, bounded in CI; see
//! `tradechain_ledger::testkit::fuzz`): transaction gossip, block-sync requests and responses,
//! consensus messages, the consensus WAL's records and the network frame decoder. Every input
//! decodes or is refused; none panics, and whatever decodes re-encodes to the same bytes.
#![allow(clippy::unwrap_used, clippy::expect_used)]
use tradechain_consensus::wire::{SignedProposalMsg, SignedVoteMsg};
use tradechain_consensus::{ConsensusMsg, WalEntry};
use tradechain_ledger::certificate::{CommitSig, VoteKind};
use tradechain_ledger::codec::encode;
use tradechain_ledger::testkit::fuzz::fuzz;
use tradechain_ledger::testkit::{self, Chain};
use tradechain_ledger::{Block, BlockHeader, CommitCertificate, Hash, Signature};
use tradechain_node::peer_messages::{self, SyncRequest, SyncResponse, TxGossip};

const LIMIT: usize = 1 << 20;

fn corpus() -> Vec<Vec<u8>> {
    let chain = Chain::demo();
    let txs: Vec<_> = testkit::shipment()
        .iter()
        .enumerate()
        .map(|(i, s)| chain.sign(s.sender, 1 + i as u64, s.payload.clone()))
        .collect();
    let key = testkit::secret("CUSTOMS-CN").public();
    let block = Block {
        header: BlockHeader {
            version: 1,
            chain_id: chain.genesis.chain_id.clone(),
            height: 7,
            prev_hash: Hash::ZERO,
            tx_root: Hash::ZERO,
            tx_count: 3,
            results_hash: Hash::ZERO,
            time_ms: 1,
            proposer: key,
            validators_hash: Hash::ZERO,
            state_hash: Hash::ZERO,
        },
        txs: txs.iter().take(3).cloned().collect(),
    };
    let cert = CommitCertificate {
        height: 7,
        round: 0,
        block_hash: block.hash(),
        signatures: vec![CommitSig {
            validator: key,
            signature: Signature([7; 64]),
        }],
    };
    let vote = SignedVoteMsg {
        height: 7,
        round: 1,
        kind: VoteKind::Precommit,
        block_hash: Some(block.hash()),
        validator: key,
        signature: Signature([1; 64]),
    };
    let proposal = SignedProposalMsg {
        height: 7,
        round: 0,
        pol_round: Some(0),
        block_hash: block.hash(),
        proposer: key,
        signature: Signature([2; 64]),
    };
    vec![
        encode(&TxGossip::Batch(txs.clone())),
        encode(&SyncRequest::Blocks { from: 1, max: 64 }),
        encode(&SyncResponse::Blocks {
            head: 9,
            blocks: vec![(block.clone(), cert.clone())],
        }),
        encode(&ConsensusMsg::Vote(vote.clone())),
        encode(&ConsensusMsg::Proposal {
            proposal: proposal.clone(),
            block: block.clone(),
        }),
        encode(&ConsensusMsg::RoundCertificate {
            height: 7,
            round: 2,
            skip: true,
            votes: vec![vote.clone(), vote.clone()],
        }),
        encode(&WalEntry::Vote(vote)),
        encode(&WalEntry::Proposal(proposal)),
        encode(&WalEntry::ProposedValue {
            height: 7,
            round: 0,
            valid_round: None,
            proposer: key,
            valid: true,
            block,
        }),
    ]
}

fn canonical<T: borsh::BorshSerialize + borsh::BorshDeserialize>(bytes: &[u8]) {
    if let Ok(v) = peer_messages::decode::<T>(bytes, LIMIT) {
        assert_eq!(
            encode(&v),
            bytes,
            "{} decoded from non-canonical bytes",
            std::any::type_name::<T>()
        );
    }
}

#[test]
fn fuzz_peer_messages() {
    fuzz("node-wire", corpus(), |bytes| {
        canonical::<TxGossip>(bytes);
        canonical::<SyncRequest>(bytes);
        canonical::<SyncResponse>(bytes);
        canonical::<ConsensusMsg>(bytes);
        canonical::<WalEntry>(bytes);
        if let Ok(msg) = peer_messages::decode::<ConsensusMsg>(bytes, LIMIT) {
            let _ = msg.height();
        }
    });
}

#[test]
fn fuzz_network_frames() {
    let frames: Vec<Vec<u8>> = corpus()
        .into_iter()
        .map(|b| {
            let mut f = (b.len() as u32).to_be_bytes().to_vec();
            f.extend_from_slice(&b);
            f
        })
        .collect();
    fuzz("frames", frames, |bytes| {
        let _ = tradechain_node::network::codec::decode_frame(bytes, LIMIT);
    });
}

#[test]
fn fuzz_mempool_admission() {
    use tradechain_node::mempool::{Mempool, MempoolLimits};
    let chain = Chain::demo();
    let corpus: Vec<Vec<u8>> = testkit::shipment()
        .iter()
        .enumerate()
        .map(|(i, s)| encode(&chain.sign(s.sender, 1 + i as u64, s.payload.clone())))
        .collect();
    let pool = std::sync::Mutex::new(Mempool::new(testkit::CHAIN_ID, 64 * 1024, MempoolLimits::default()));
    fuzz("mempool", corpus, |bytes| {
        if let Ok(tx) = peer_messages::decode::<tradechain_ledger::SignedTransaction>(bytes, LIMIT)
            && let Ok(mut m) = pool.lock()
        {
            let _ = m.insert(tx, &chain.state);
            let _ = m.select(100, 1 << 20, &chain.state);
        }
    });
}
