//! Connection gate: the permissioning part of the network.
//!
//! A `NetworkBehaviour` with no protocol of its own. It owns the set of allowed peers (PeerIds derived from the
//! member node keys) and the temporary ban list built from penalties.
//!
//! Invariants:
//! - no connection (inbound or outbound) to a peer outside the allow-list, or currently banned, is ever
//!   established: it is denied in `handle_established_*_connection` (and outbound dials to a known peer id are
//!   denied before dialing), so no other behaviour ever gets a handler for it;
//! - when the allow-list shrinks or a peer gets banned, all its existing connections are closed;
//! - a peer reaching `penalty_threshold` penalties is banned for `ban_duration`, and its penalty count restarts.

use std::{
    collections::{BTreeMap, BTreeSet, VecDeque},
    convert::Infallible,
    fmt,
    task::{Context, Poll, Waker},
    time::{Duration, Instant},
};

use libp2p::{
    Multiaddr, PeerId,
    core::{Endpoint, transport::PortUse},
    swarm::{
        CloseConnection, ConnectionDenied, ConnectionId, FromSwarm, NetworkBehaviour, THandler, THandlerInEvent,
        THandlerOutEvent, ToSwarm, dummy,
    },
};

/// Why a connection was refused.
#[derive(Debug)]
pub enum Refused {
    /// The peer's identity is not a current member node key.
    NotAllowed(PeerId),
    /// The peer is banned after too many penalties.
    Banned(PeerId),
}

impl fmt::Display for Refused {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Refused::NotAllowed(p) => write!(f, "peer {p} is not a member node"),
            Refused::Banned(p) => write!(f, "peer {p} is banned"),
        }
    }
}

impl std::error::Error for Refused {}

/// What a penalty led to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PenaltyOutcome {
    /// Counted; the peer stays connected. Carries the current count.
    Counted(u32),
    /// The threshold was reached: the peer is now banned and disconnected.
    Banned,
}

/// The connection gate behaviour.
pub struct Gate {
    allowed: BTreeSet<PeerId>,
    banned: BTreeMap<PeerId, Instant>,
    penalties: BTreeMap<PeerId, u32>,
    penalty_threshold: u32,
    ban_duration: Duration,
    connected: BTreeSet<PeerId>,
    close: VecDeque<PeerId>,
    waker: Option<Waker>,
}

impl Gate {
    /// A gate admitting exactly `allowed`.
    pub fn new(allowed: BTreeSet<PeerId>, penalty_threshold: u32, ban_duration: Duration) -> Gate {
        Gate {
            allowed,
            banned: BTreeMap::new(),
            penalties: BTreeMap::new(),
            penalty_threshold: penalty_threshold.max(1),
            ban_duration,
            connected: BTreeSet::new(),
            close: VecDeque::new(),
            waker: None,
        }
    }

    /// Whether a connection with `peer` may exist now.
    pub fn is_admitted(&self, peer: &PeerId) -> bool {
        self.check(peer).is_ok()
    }

    /// Whether `peer` is on the allow-list (ignoring bans).
    pub fn is_allowed(&self, peer: &PeerId) -> bool {
        self.allowed.contains(peer)
    }

    /// Whether `peer` is banned now.
    pub fn is_banned(&self, peer: &PeerId) -> bool {
        self.banned.contains_key(peer)
    }

    /// Peers currently banned (expired bans are dropped by [`Gate::expire`]).
    pub fn banned(&self) -> BTreeSet<PeerId> {
        self.banned.keys().copied().collect()
    }

    /// Replaces the allow-list; connected peers that are no longer allowed are disconnected.
    pub fn set_allowed(&mut self, allowed: BTreeSet<PeerId>) {
        self.allowed = allowed;
        let dropped: Vec<PeerId> = self
            .connected
            .iter()
            .filter(|p| !self.allowed.contains(p))
            .copied()
            .collect();
        for peer in dropped {
            tracing::info!(%peer, "peer removed from the allow-list: disconnecting");
            self.queue_close(peer);
        }
    }

    /// Counts one penalty against `peer`; at the threshold the peer is banned and disconnected.
    pub fn penalize(&mut self, peer: PeerId, now: Instant) -> PenaltyOutcome {
        let count = self.penalties.entry(peer).or_insert(0);
        *count = count.saturating_add(1);
        if *count < self.penalty_threshold {
            return PenaltyOutcome::Counted(*count);
        }
        self.penalties.remove(&peer);
        self.banned
            .insert(peer, now.checked_add(self.ban_duration).unwrap_or(now));
        self.queue_close(peer);
        PenaltyOutcome::Banned
    }

    /// Lifts bans whose time is over; returns the peers unbanned.
    pub fn expire(&mut self, now: Instant) -> Vec<PeerId> {
        let over: Vec<PeerId> = self
            .banned
            .iter()
            .filter(|(_, until)| **until <= now)
            .map(|(p, _)| *p)
            .collect();
        for p in &over {
            self.banned.remove(p);
        }
        over
    }

    fn check(&self, peer: &PeerId) -> Result<(), Refused> {
        if !self.allowed.contains(peer) {
            return Err(Refused::NotAllowed(*peer));
        }
        if let Some(until) = self.banned.get(peer)
            && *until > Instant::now()
        {
            return Err(Refused::Banned(*peer));
        }
        Ok(())
    }

    fn enforce(&self, peer: &PeerId) -> Result<(), ConnectionDenied> {
        self.check(peer).map_err(|e| {
            tracing::debug!(%peer, reason = %e, "connection refused");
            ConnectionDenied::new(e)
        })
    }

    fn queue_close(&mut self, peer: PeerId) {
        self.close.push_back(peer);
        if let Some(w) = self.waker.take() {
            w.wake();
        }
    }
}

impl NetworkBehaviour for Gate {
    type ConnectionHandler = dummy::ConnectionHandler;
    type ToSwarm = Infallible;

    fn handle_established_inbound_connection(
        &mut self,
        _: ConnectionId,
        peer: PeerId,
        _: &Multiaddr,
        _: &Multiaddr,
    ) -> Result<THandler<Self>, ConnectionDenied> {
        self.enforce(&peer)?;
        Ok(dummy::ConnectionHandler)
    }

    fn handle_pending_outbound_connection(
        &mut self,
        _: ConnectionId,
        peer: Option<PeerId>,
        _: &[Multiaddr],
        _: Endpoint,
    ) -> Result<Vec<Multiaddr>, ConnectionDenied> {
        if let Some(peer) = peer {
            self.enforce(&peer)?;
        }
        Ok(vec![])
    }

    fn handle_established_outbound_connection(
        &mut self,
        _: ConnectionId,
        peer: PeerId,
        _: &Multiaddr,
        _: Endpoint,
        _: PortUse,
    ) -> Result<THandler<Self>, ConnectionDenied> {
        self.enforce(&peer)?;
        Ok(dummy::ConnectionHandler)
    }

    fn on_swarm_event(&mut self, event: FromSwarm) {
        match event {
            FromSwarm::ConnectionEstablished(e) => {
                self.connected.insert(e.peer_id);
            }
            FromSwarm::ConnectionClosed(e) if e.remaining_established == 0 => {
                self.connected.remove(&e.peer_id);
            }
            _ => {}
        }
    }

    fn on_connection_handler_event(&mut self, _: PeerId, _: ConnectionId, event: THandlerOutEvent<Self>) {
        libp2p::core::util::unreachable(event)
    }

    fn poll(&mut self, cx: &mut Context<'_>) -> Poll<ToSwarm<Self::ToSwarm, THandlerInEvent<Self>>> {
        if let Some(peer) = self.close.pop_front() {
            return Poll::Ready(ToSwarm::CloseConnection {
                peer_id: peer,
                connection: CloseConnection::All,
            });
        }
        self.waker = Some(cx.waker().clone());
        Poll::Pending
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    #[test]
    fn penalties_ban_at_threshold_and_expire() {
        let a = PeerId::random();
        let b = PeerId::random();
        let mut g = Gate::new([a, b].into_iter().collect(), 3, Duration::from_secs(60));
        let now = Instant::now();
        assert!(g.is_admitted(&a));
        assert_eq!(g.penalize(a, now), PenaltyOutcome::Counted(1));
        assert_eq!(g.penalize(a, now), PenaltyOutcome::Counted(2));
        assert_eq!(g.penalize(a, now), PenaltyOutcome::Banned);
        assert!(!g.is_admitted(&a));
        assert!(g.is_admitted(&b));
        assert!(g.expire(now).is_empty());
        assert_eq!(g.expire(now + Duration::from_secs(61)), vec![a]);
        assert!(g.is_admitted(&a));
    }

    #[test]
    fn allow_list_refuses_strangers() {
        let a = PeerId::random();
        let mut g = Gate::new(BTreeSet::new(), 3, Duration::from_secs(60));
        assert!(!g.is_admitted(&a));
        g.set_allowed([a].into_iter().collect());
        assert!(g.is_admitted(&a));
    }
}
