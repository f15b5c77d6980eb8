//! The network task: builds the libp2p swarm and runs its event loop, translating between swarm events and
//! [`NetCommand`]/[`NetEvent`].
//!
//! Invariants: gossip is accepted (and thus forwarded) only when it is signed by a member, within the size limit
//! and within the relaying peer's rate budget; oversized gossip and malformed requests count as a penalty for the
//! peer that sent them; publishing with no subscribed peer is logged, never fatal; the task ends when the command
//! channel closes (every handle dropped).

use std::{
    collections::{BTreeMap, BTreeSet, HashSet},
    time::{Duration, Instant},
};

use futures::StreamExt;
use libp2p::{
    Multiaddr, PeerId, StreamProtocol, Swarm, SwarmBuilder, gossipsub, identify,
    identity::Keypair,
    multiaddr::Protocol,
    noise, request_response,
    swarm::{
        DialError, ListenError, NetworkBehaviour, SwarmEvent,
        dial_opts::{DialOpts, PeerCondition},
    },
    tcp, yamux,
};
use sha2::{Digest, Sha256};
use tokio::sync::mpsc;

use super::{
    COMMAND_QUEUE, EVENT_QUEUE, NetCommand, NetConfig, NetError, NetEvent, NetHandle, NetLimits, PeerViewCell, Topic,
    allowed_peer_ids,
    codec::{FrameCodec, RequestFrame},
    gate::{Gate, PenaltyOutcome},
    rate::{Budget, Class, RateLimiter},
};

/// Room left in a gossipsub frame for the envelope (author, signature, key, sequence number, topic): the payload
/// limit itself is enforced exactly by us, on publish and on receipt.
const GOSSIP_ENVELOPE_BYTES: usize = 4096;

/// How long `start` waits for the listeners to report their addresses.
const LISTEN_WAIT: Duration = Duration::from_secs(10);

#[derive(NetworkBehaviour)]
struct Behaviour {
    gate: Gate,
    gossipsub: gossipsub::Behaviour,
    rr: request_response::Behaviour<FrameCodec>,
    identify: identify::Behaviour,
}

/// Transactions are de-duplicated by content (the same tx relayed by many nodes is one message).
/// Consensus messages are identified per publication (author and sequence number): the engine
/// re-publishes its latest votes on a timer so that a peer that reconnects mid-round (after a
/// crash or a partition) still hears them, and content-addressed ids would swallow those
/// re-publications as duplicates — leaving a restarted validator unable to restore a quorum.
fn message_id(msg: &gossipsub::Message) -> gossipsub::MessageId {
    let consensus = msg.topic.as_str().ends_with("/consensus");
    match (consensus, &msg.source, msg.sequence_number) {
        (true, Some(source), Some(seq)) => {
            let mut h = Sha256::new();
            h.update(source.to_bytes());
            h.update(seq.to_be_bytes());
            h.update(&msg.data);
            gossipsub::MessageId::from(h.finalize().to_vec())
        }
        _ => gossipsub::MessageId::from(Sha256::digest(&msg.data).to_vec()),
    }
}

fn build_swarm(cfg: &NetConfig, limits: &NetLimits, keypair: Keypair) -> Result<Swarm<Behaviour>, NetError> {
    let setup = |e: &dyn std::fmt::Display| NetError::Setup(e.to_string());
    let allowed = allowed_peer_ids(&cfg.allowed);
    let max = cfg.max_message_bytes;
    let gossip_config = gossipsub::ConfigBuilder::default()
        .validation_mode(gossipsub::ValidationMode::Strict)
        .validate_messages()
        .message_id_fn(message_id)
        .max_transmit_size(max.saturating_add(GOSSIP_ENVELOPE_BYTES))
        .heartbeat_interval(limits.heartbeat)
        .mesh_n_low(2)
        .mesh_n(4)
        .mesh_n_high(8)
        .mesh_outbound_min(1)
        .gossip_lazy(4)
        .flood_publish(true)
        .build()
        .map_err(|e| setup(&e))?;
    let protocol =
        StreamProtocol::try_from_owned(format!("/tradechain/{}/sync/1", cfg.chain_id)).map_err(|e| setup(&e))?;
    let identify_version = format!("/tradechain/{}/1", cfg.chain_id);
    let (threshold, ban) = (limits.penalty_threshold, limits.ban_duration);
    let rr_config = request_response::Config::default().with_request_timeout(limits.request_timeout);

    let swarm = SwarmBuilder::with_existing_identity(keypair)
        .with_tokio()
        .with_tcp(
            tcp::Config::default().nodelay(true),
            noise::Config::new,
            yamux::Config::default,
        )
        .map_err(|e| setup(&e))?
        .with_behaviour(|key| {
            let gossipsub =
                gossipsub::Behaviour::new(gossipsub::MessageAuthenticity::Signed(key.clone()), gossip_config)
                    .map_err(|e| -> Box<dyn std::error::Error + Send + Sync> { e.into() })?;
            Ok(Behaviour {
                gate: Gate::new(allowed, threshold, ban),
                gossipsub,
                rr: request_response::Behaviour::with_codec(
                    FrameCodec::new(max),
                    [(protocol, request_response::ProtocolSupport::Full)],
                    rr_config,
                ),
                identify: identify::Behaviour::new(identify::Config::new(identify_version, key.public())),
            })
        })
        .map_err(|e| setup(&e))?
        .with_swarm_config(|c| c.with_idle_connection_timeout(Duration::from_secs(3600)))
        .build();
    Ok(swarm)
}

pub(super) async fn start(
    cfg: NetConfig,
    limits: NetLimits,
) -> Result<(NetHandle, mpsc::Receiver<NetEvent>), NetError> {
    let mut seed = cfg.node_key_seed;
    let keypair = Keypair::ed25519_from_bytes(&mut seed).map_err(|e| NetError::InvalidKey(e.to_string()))?;
    let local = keypair.public().to_peer_id();
    let mut swarm = build_swarm(&cfg, &limits, keypair)?;

    let mut topics = BTreeMap::new();
    for t in Topic::ALL {
        let topic = gossipsub::IdentTopic::new(t.name(&cfg.chain_id));
        swarm
            .behaviour_mut()
            .gossipsub
            .subscribe(&topic)
            .map_err(|e| NetError::Setup(e.to_string()))?;
        topics.insert(topic.hash(), t);
    }

    let mut listeners = HashSet::new();
    for addr in &cfg.listen {
        let id = swarm.listen_on(addr.clone()).map_err(|e| NetError::Listen {
            addr: addr.clone(),
            error: e.to_string(),
        })?;
        listeners.insert(id);
    }
    let shared = PeerViewCell::default();
    // Wait until each listener reports an address, so that `listen_addrs()` is meaningful at once.
    let deadline = tokio::time::Instant::now() + LISTEN_WAIT;
    let mut early_events = Vec::new();
    while !listeners.is_empty() {
        match tokio::time::timeout_at(deadline, swarm.select_next_some()).await {
            Ok(SwarmEvent::NewListenAddr { listener_id, address }) => {
                tracing::info!(%address, "listening");
                shared.lock().listen.push(address);
                listeners.remove(&listener_id);
            }
            Ok(SwarmEvent::ListenerClosed {
                listener_id,
                reason,
                addresses,
            }) if listeners.contains(&listener_id) => {
                let addr = addresses.first().cloned().unwrap_or_else(Multiaddr::empty);
                let error = match reason {
                    Ok(()) => "listener closed".to_string(),
                    Err(e) => e.to_string(),
                };
                return Err(NetError::Listen { addr, error });
            }
            Ok(SwarmEvent::ListenerError { error, .. }) => {
                return Err(NetError::Listen {
                    addr: Multiaddr::empty(),
                    error: error.to_string(),
                });
            }
            Ok(other) => early_events.push(other),
            Err(_) => {
                return Err(NetError::Listen {
                    addr: Multiaddr::empty(),
                    error: "no listen address reported".into(),
                });
            }
        }
    }

    let (cmd_tx, cmd_rx) = mpsc::channel(COMMAND_QUEUE);
    let (ev_tx, ev_rx) = mpsc::channel(EVENT_QUEUE);
    let handle = NetHandle {
        tx: cmd_tx,
        local,
        shared: shared.clone(),
    };
    let mut runner = Runner {
        swarm,
        ev_tx,
        shared,
        local,
        topics,
        bootstrap: cfg.bootstrap.clone(),
        max: cfg.max_message_bytes,
        chain_id: cfg.chain_id.clone(),
        rate: RateLimiter::with_budgets(
            Budget {
                per_sec: limits.consensus_rate_per_sec,
                burst: limits.consensus_rate_burst,
            },
            Budget {
                per_sec: limits.rate_per_sec,
                burst: limits.rate_burst,
            },
            Budget {
                per_sec: limits.request_rate_per_sec,
                burst: limits.request_rate_burst,
            },
        ),
        inbound: BTreeMap::new(),
        next_request_id: 1,
        consensus_authors: None,
    };
    for ev in early_events {
        runner.on_swarm_event(ev);
    }
    runner.dial_bootstrap(true);
    tokio::spawn(runner.run(cmd_rx, limits.redial_interval));
    Ok((handle, ev_rx))
}

struct Runner {
    swarm: Swarm<Behaviour>,
    ev_tx: mpsc::Sender<NetEvent>,
    shared: PeerViewCell,
    local: PeerId,
    topics: BTreeMap<gossipsub::TopicHash, Topic>,
    bootstrap: Vec<Multiaddr>,
    max: usize,
    chain_id: String,
    rate: RateLimiter,
    /// Who may author consensus gossip (validator orgs' nodes); `None`: any member.
    consensus_authors: Option<BTreeSet<PeerId>>,
    /// Inbound requests awaiting the node's answer, by our request id.
    inbound: BTreeMap<
        u64,
        (
            request_response::InboundRequestId,
            request_response::ResponseChannel<Vec<u8>>,
        ),
    >,
    next_request_id: u64,
}

impl Runner {
    async fn run(mut self, mut cmd_rx: mpsc::Receiver<NetCommand>, redial: Duration) {
        let mut tick = tokio::time::interval(redial);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                ev = self.swarm.select_next_some() => self.on_swarm_event(ev),
                cmd = cmd_rx.recv() => match cmd {
                    Some(cmd) => self.on_command(cmd),
                    None => break,
                },
                _ = tick.tick() => self.on_tick(),
            }
        }
        tracing::info!(local = %self.local, "network task stopped");
    }

    fn emit(&mut self, ev: NetEvent) {
        if let Err(e) = self.ev_tx.try_send(ev) {
            self.shared.lock().stats.events_dropped += 1;
            tracing::warn!(error = %e, "node event queue full or closed: event dropped");
        }
    }

    fn on_tick(&mut self) {
        let unbanned = self.swarm.behaviour_mut().gate.expire(Instant::now());
        if !unbanned.is_empty() {
            for p in &unbanned {
                tracing::info!(peer = %p, "ban expired");
            }
            self.shared.lock().banned = self.swarm.behaviour().gate.banned();
        }
        // Forget requests whose remote gave up.
        self.inbound.retain(|_, (_, ch)| ch.is_open());
        self.dial_bootstrap(false);
    }

    /// Dials bootstrap peers we are not connected to. Addresses without `/p2p/` are dialled at start and
    /// whenever we have no connection at all.
    fn dial_bootstrap(&mut self, first: bool) {
        let no_peers = self.swarm.connected_peers().next().is_none();
        for addr in self.bootstrap.clone() {
            let opts = match addr.iter().last() {
                Some(Protocol::P2p(peer)) => {
                    if peer == self.local
                        || self.swarm.is_connected(&peer)
                        || !self.swarm.behaviour().gate.is_admitted(&peer)
                    {
                        continue;
                    }
                    DialOpts::peer_id(peer)
                        .addresses(vec![addr.clone()])
                        .condition(PeerCondition::DisconnectedAndNotDialing)
                        .build()
                }
                _ if first || no_peers => DialOpts::unknown_peer_id().address(addr.clone()).build(),
                _ => continue,
            };
            if let Err(e) = self.swarm.dial(opts) {
                tracing::debug!(%addr, error = %e, "bootstrap dial failed");
            }
        }
    }

    fn on_command(&mut self, cmd: NetCommand) {
        match cmd {
            NetCommand::Publish { topic, data } => self.publish(topic, data),
            NetCommand::SendRequest { peer, data } => {
                if data.len() > self.max {
                    let error = format!(
                        "request of {} bytes exceeds the limit of {} bytes",
                        data.len(),
                        self.max
                    );
                    self.emit(NetEvent::RequestFailed { peer, error });
                } else if !self.swarm.behaviour().gate.is_admitted(&peer) {
                    self.emit(NetEvent::RequestFailed {
                        peer,
                        error: "peer is not an admitted member".into(),
                    });
                } else {
                    self.swarm
                        .behaviour_mut()
                        .rr
                        .send_request(&peer, RequestFrame::Data(data));
                }
            }
            NetCommand::Respond { request_id, data } => match self.inbound.remove(&request_id) {
                Some((_, channel)) if data.len() <= self.max => {
                    if self.swarm.behaviour_mut().rr.send_response(channel, data).is_err() {
                        tracing::debug!(request_id, "response not sent: requester gone");
                    }
                }
                Some(_) => tracing::warn!(request_id, len = data.len(), "response exceeds the size limit: dropped"),
                None => tracing::debug!(request_id, "no pending request with this id"),
            },
            NetCommand::SetAllowed(keys) => {
                let allowed = allowed_peer_ids(&keys);
                tracing::info!(members = allowed.len(), "allow-list updated");
                self.swarm.behaviour_mut().gate.set_allowed(allowed);
            }
            NetCommand::SetConsensusAuthors(keys) => {
                let authors = allowed_peer_ids(&keys);
                tracing::info!(authors = authors.len(), "consensus authors updated");
                self.consensus_authors = Some(authors);
            }
            NetCommand::Penalize { peer, reason } => self.penalize(peer, &reason),
        }
    }

    fn publish(&mut self, topic: Topic, data: Vec<u8>) {
        if data.len() > self.max {
            self.shared.lock().stats.publish_errors += 1;
            tracing::warn!(
                ?topic,
                len = data.len(),
                max = self.max,
                "publish refused: message too large"
            );
            return;
        }
        let name = gossipsub::IdentTopic::new(topic.name(&self.chain_id));
        match self.swarm.behaviour_mut().gossipsub.publish(name, data) {
            Ok(_) => {}
            Err(gossipsub::PublishError::NoPeersSubscribedToTopic) => {
                tracing::debug!(?topic, "publish: no peer subscribed yet");
            }
            Err(gossipsub::PublishError::Duplicate) => {
                tracing::debug!(?topic, "publish: identical message already sent recently");
            }
            Err(e) => {
                self.shared.lock().stats.publish_errors += 1;
                tracing::warn!(?topic, error = %e, "publish failed");
            }
        }
    }

    fn penalize(&mut self, peer: PeerId, reason: &str) {
        self.shared.lock().stats.penalties += 1;
        match self.swarm.behaviour_mut().gate.penalize(peer, Instant::now()) {
            PenaltyOutcome::Counted(n) => tracing::info!(%peer, reason, count = n, "peer penalised"),
            PenaltyOutcome::Banned => {
                tracing::warn!(%peer, reason, "peer banned after repeated penalties: disconnecting");
                let banned = self.swarm.behaviour().gate.banned();
                let mut s = self.shared.lock();
                s.stats.bans += 1;
                s.banned = banned;
            }
        }
    }

    fn on_swarm_event(&mut self, ev: SwarmEvent<BehaviourEvent>) {
        match ev {
            SwarmEvent::Behaviour(BehaviourEvent::Gossipsub(e)) => self.on_gossip(e),
            SwarmEvent::Behaviour(BehaviourEvent::Rr(e)) => self.on_rr(e),
            SwarmEvent::Behaviour(BehaviourEvent::Identify(identify::Event::Received { peer_id, info, .. })) => {
                tracing::debug!(peer = %peer_id, addrs = ?info.listen_addrs, "identified");
            }
            SwarmEvent::Behaviour(_) => {}
            SwarmEvent::ConnectionEstablished {
                peer_id,
                num_established,
                endpoint,
                ..
            } if num_established.get() == 1 => {
                tracing::info!(peer = %peer_id, addr = %endpoint.get_remote_address(), "peer connected");
                self.shared.lock().connected.insert(peer_id);
                self.emit(NetEvent::PeerConnected(peer_id));
            }
            SwarmEvent::ConnectionClosed {
                peer_id,
                num_established: 0,
                ..
            } => {
                tracing::info!(peer = %peer_id, "peer disconnected");
                {
                    let mut s = self.shared.lock();
                    s.connected.remove(&peer_id);
                    for peers in s.topic_peers.values_mut() {
                        peers.remove(&peer_id);
                    }
                }
                self.rate.remove(&peer_id);
                self.emit(NetEvent::PeerDisconnected(peer_id));
            }
            SwarmEvent::IncomingConnectionError {
                error: ListenError::Denied { cause },
                send_back_addr,
                ..
            } => {
                self.shared.lock().stats.connections_refused += 1;
                tracing::info!(addr = %send_back_addr, %cause, "inbound connection refused");
            }
            SwarmEvent::OutgoingConnectionError {
                error: DialError::Denied { cause },
                peer_id,
                ..
            } => {
                self.shared.lock().stats.connections_refused += 1;
                tracing::info!(peer = ?peer_id, %cause, "outbound connection refused");
            }
            SwarmEvent::OutgoingConnectionError { error, peer_id, .. } => {
                tracing::debug!(peer = ?peer_id, %error, "dial failed");
            }
            SwarmEvent::NewListenAddr { address, .. } => {
                tracing::info!(%address, "listening");
                let mut s = self.shared.lock();
                if !s.listen.contains(&address) {
                    s.listen.push(address);
                }
            }
            SwarmEvent::ExpiredListenAddr { address, .. } => {
                self.shared.lock().listen.retain(|a| a != &address);
            }
            _ => {}
        }
    }

    fn on_gossip(&mut self, e: gossipsub::Event) {
        match e {
            gossipsub::Event::Message {
                propagation_source,
                message_id,
                message,
            } => {
                let acceptance = self.check_gossip(propagation_source, &message);
                let accepted = matches!(acceptance, gossipsub::MessageAcceptance::Accept);
                self.swarm.behaviour_mut().gossipsub.report_message_validation_result(
                    &message_id,
                    &propagation_source,
                    acceptance,
                );
                if accepted
                    && let (Some(from), Some(topic)) = (message.source, self.topics.get(&message.topic).copied())
                {
                    self.shared.lock().stats.gossip_delivered += 1;
                    self.emit(NetEvent::Gossip {
                        from,
                        topic,
                        data: message.data,
                    });
                }
            }
            gossipsub::Event::Subscribed { peer_id, topic } => {
                if let Some(t) = self.topics.get(&topic) {
                    self.shared.lock().topic_peers.entry(*t).or_default().insert(peer_id);
                }
            }
            gossipsub::Event::Unsubscribed { peer_id, topic } => {
                if let Some(t) = self.topics.get(&topic)
                    && let Some(peers) = self.shared.lock().topic_peers.get_mut(t)
                {
                    peers.remove(&peer_id);
                }
            }
            _ => {}
        }
    }

    fn check_gossip(&mut self, relay: PeerId, message: &gossipsub::Message) -> gossipsub::MessageAcceptance {
        use gossipsub::MessageAcceptance::{Accept, Ignore, Reject};
        let class = match self.topics.get(&message.topic) {
            Some(Topic::Consensus) => Class::Consensus,
            _ => Class::Txs,
        };
        if !self.rate.admit(relay, class, Instant::now()) {
            self.shared.lock().stats.rate_limited += 1;
            tracing::debug!(peer = %relay, "gossip over the rate limit: dropped");
            return Ignore;
        }
        if message.data.len() > self.max {
            self.shared.lock().stats.gossip_oversized += 1;
            self.penalize(relay, "oversized gossip message");
            return Reject;
        }
        if !self.topics.contains_key(&message.topic) {
            return Ignore;
        }
        match message.source {
            Some(author) if author != self.local && self.swarm.behaviour().gate.is_banned(&author) => {
                self.shared.lock().stats.gossip_banned_author += 1;
                tracing::debug!(peer = %relay, %author, "gossip authored by a banned peer: rejected");
                Reject
            }
            Some(author)
                if class == Class::Consensus
                    && author != self.local
                    && self.consensus_authors.as_ref().is_some_and(|a| !a.contains(&author)) =>
            {
                self.shared.lock().stats.gossip_non_member += 1;
                tracing::debug!(peer = %relay, %author, "consensus gossip not authored by a validator's node: rejected");
                if relay == author {
                    self.penalize(relay, "authored consensus gossip without being a validator's node");
                }
                Reject
            }
            Some(author) if author == self.local || self.swarm.behaviour().gate.is_allowed(&author) => Accept,
            _ => {
                self.shared.lock().stats.gossip_non_member += 1;
                tracing::debug!(peer = %relay, author = ?message.source, "gossip not authored by a member: rejected");
                Reject
            }
        }
    }

    fn on_rr(&mut self, e: request_response::Event<RequestFrame, Vec<u8>>) {
        use request_response::{Event, Message, OutboundFailure};
        match e {
            Event::Message {
                peer,
                message:
                    Message::Request {
                        request_id,
                        request,
                        channel,
                    },
                ..
            } => {
                if !self.rate.admit(peer, Class::Requests, Instant::now()) {
                    self.shared.lock().stats.rate_limited += 1;
                    tracing::debug!(%peer, "request over the rate limit: dropped");
                    return; // dropping the channel fails the request on the remote side
                }
                let request = match request {
                    RequestFrame::Data(data) => data,
                    RequestFrame::Oversized { len } => {
                        self.shared.lock().stats.requests_malformed += 1;
                        tracing::debug!(%peer, len, "oversized request refused");
                        self.penalize(peer, "oversized request");
                        return; // dropping the channel fails the request on the remote side
                    }
                };
                let id = self.next_request_id;
                self.next_request_id = self.next_request_id.wrapping_add(1);
                self.inbound.insert(id, (request_id, channel));
                self.shared.lock().stats.requests_delivered += 1;
                self.emit(NetEvent::Request {
                    from: peer,
                    request_id: id,
                    data: request,
                });
            }
            Event::Message {
                peer,
                message: Message::Response { response, .. },
                ..
            } => {
                self.emit(NetEvent::Response {
                    from: peer,
                    data: response,
                });
            }
            Event::OutboundFailure { peer, error, .. } => {
                let error = match error {
                    OutboundFailure::Io(e) => format!("io error: {e}"),
                    other => other.to_string(),
                };
                self.emit(NetEvent::RequestFailed { peer, error });
            }
            Event::InboundFailure {
                peer,
                request_id,
                error,
                ..
            } => {
                self.inbound.retain(|_, (rid, _)| *rid != request_id);
                tracing::debug!(%peer, %error, "inbound request failed");
            }
            Event::ResponseSent { .. } => {}
        }
    }
}
