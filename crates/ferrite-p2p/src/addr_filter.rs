//! Address ranges: Kubo's `Swarm.AddrFilters` (never dial, never accept)
//! and `Addresses.NoAnnounce` (never announce).
//!
//! A range is written as a multiaddr `/ip4/<net>/ipcidr/<bits>` or
//! `/ip6/<net>/ipcidr/<bits>`, e.g. `/ip4/10.0.0.0/ipcidr/8` or
//! `/ip6/fe80::/ipcidr/10`; a bare `/ip4/<addr>` or `/ip6/<addr>` is a
//! single address. An address is inside a range when its first IP
//! component is.
//!
//! [`Behaviour`] refuses inbound connections from filtered addresses and
//! dials whose addresses are all filtered; [`FilteredTransport`] fails the
//! dial of each filtered address, whichever behaviour supplied it.

use std::convert::Infallible;
use std::fmt;
use std::io;
use std::net::IpAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use libp2p::core::transport::{DialOpts, ListenerId, PortUse, TransportError, TransportEvent};
use libp2p::core::{Endpoint, Transport};
use libp2p::multiaddr::Protocol;
use libp2p::swarm::{
    dummy, ConnectionDenied, ConnectionId, FromSwarm, NetworkBehaviour, THandler, THandlerInEvent,
    THandlerOutEvent, ToSwarm,
};
use libp2p::{Multiaddr, PeerId};

/// An IP network: an address and a prefix length.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IpRange {
    net: IpAddr,
    bits: u8,
}

impl IpRange {
    /// Reads `/ip4/<net>/ipcidr/<bits>`, `/ip6/<net>/ipcidr/<bits>` or a
    /// bare `/ip4/<addr>` / `/ip6/<addr>`. The error says what is wrong.
    pub fn from_multiaddr(addr: &Multiaddr) -> Result<IpRange, String> {
        let mut it = addr.iter();
        let (net, max) = match it.next() {
            Some(Protocol::Ip4(ip)) => (IpAddr::V4(ip), 32),
            Some(Protocol::Ip6(ip)) => (IpAddr::V6(ip), 128),
            _ => return Err("a range must start with /ip4 or /ip6".into()),
        };
        let bits = match it.next() {
            None => max,
            Some(Protocol::Ipcidr(bits)) if bits <= max => bits,
            Some(Protocol::Ipcidr(bits)) => {
                return Err(format!("prefix length {bits} is longer than {max}"))
            }
            Some(p) => return Err(format!("expected /ipcidr/<bits> after the IP, found /{p}")),
        };
        if it.next().is_some() {
            return Err("nothing may follow /ipcidr/<bits>".into());
        }
        Ok(IpRange { net, bits })
    }

    /// Whether `ip` is inside this range (IPv4 and IPv6 never mix).
    pub fn contains(&self, ip: IpAddr) -> bool {
        match (self.net, ip) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                let mask = u32::MAX.checked_shl(32 - u32::from(self.bits)).unwrap_or(0);
                u32::from(net) & mask == u32::from(ip) & mask
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                let mask = u128::MAX
                    .checked_shl(128 - u32::from(self.bits))
                    .unwrap_or(0);
                u128::from(net) & mask == u128::from(ip) & mask
            }
            _ => false,
        }
    }
}

/// The first IP address in a multiaddr, if any.
pub fn first_ip(addr: &Multiaddr) -> Option<IpAddr> {
    addr.iter().find_map(|p| match p {
        Protocol::Ip4(ip) => Some(IpAddr::V4(ip)),
        Protocol::Ip6(ip) => Some(IpAddr::V6(ip)),
        _ => None,
    })
}

/// Whether a multiaddr is written as a range (has an `/ipcidr` component).
fn is_range(addr: &Multiaddr) -> bool {
    addr.iter().any(|p| matches!(p, Protocol::Ipcidr(_)))
}

/// `Swarm.AddrFilters`: ranges this host neither dials nor accepts
/// connections from.
#[derive(Debug, Clone, Default)]
pub struct AddrFilters {
    ranges: Vec<(Multiaddr, IpRange)>,
}

impl AddrFilters {
    /// Parses the ranges; the error names the bad entry and the reason.
    pub fn new(filters: &[Multiaddr]) -> Result<AddrFilters, (Multiaddr, String)> {
        let ranges = filters
            .iter()
            .map(|f| {
                IpRange::from_multiaddr(f)
                    .map(|r| (f.clone(), r))
                    .map_err(|e| (f.clone(), e))
            })
            .collect::<Result<_, _>>()?;
        Ok(AddrFilters { ranges })
    }

    /// Whether there are no filters.
    pub fn is_empty(&self) -> bool {
        self.ranges.is_empty()
    }

    /// The filter that blocks `addr`, if any.
    pub fn blocked_by(&self, addr: &Multiaddr) -> Option<&Multiaddr> {
        if self.ranges.is_empty() {
            return None;
        }
        let ip = first_ip(addr)?;
        self.ranges
            .iter()
            .find(|(_, r)| r.contains(ip))
            .map(|(f, _)| f)
    }

    /// Whether `addr` is inside a filtered range.
    pub fn is_blocked(&self, addr: &Multiaddr) -> bool {
        self.blocked_by(addr).is_some()
    }
}

/// `Addresses.NoAnnounce`: exact addresses and `ipcidr` ranges never
/// announced (as Kubo: an entry with `/ipcidr` is a range, any other entry
/// must match exactly, ignoring a trailing `/p2p/<peer>`).
#[derive(Debug, Clone, Default)]
pub struct NoAnnounce {
    exact: Vec<Multiaddr>,
    ranges: AddrFilters,
}

impl NoAnnounce {
    /// Parses the entries; the error names the bad range and the reason.
    pub fn new(entries: &[Multiaddr]) -> Result<NoAnnounce, (Multiaddr, String)> {
        let (ranges, exact): (Vec<Multiaddr>, Vec<Multiaddr>) =
            entries.iter().cloned().partition(is_range);
        Ok(NoAnnounce {
            exact: exact.iter().map(crate::peerstore::strip_p2p).collect(),
            ranges: AddrFilters::new(&ranges)?,
        })
    }

    /// Whether `addr` must not be announced.
    pub fn blocks(&self, addr: &Multiaddr) -> bool {
        if self.ranges.is_blocked(addr) {
            return true;
        }
        !self.exact.is_empty() && self.exact.contains(&crate::peerstore::strip_p2p(addr))
    }
}

/// Why a connection was refused or a dial failed: the address is inside a
/// `Swarm.AddrFilters` range.
#[derive(Debug, Clone)]
pub struct AddrFiltered {
    /// The refused address (for a denied dial, the first one).
    pub addr: Multiaddr,
    /// The filter that covers it.
    pub filter: Multiaddr,
}

impl fmt::Display for AddrFiltered {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} is blocked by the address filter {} (Swarm.AddrFilters)",
            self.addr, self.filter
        )
    }
}

impl std::error::Error for AddrFiltered {}

/// Refuses connections from filtered addresses, and dials without a known
/// peer whose addresses are all filtered. Dials to a known peer go on:
/// other behaviours may add addresses, and [`FilteredTransport`] fails
/// each filtered one.
#[derive(Debug, Clone)]
pub struct Behaviour {
    filters: Arc<AddrFilters>,
}

impl Behaviour {
    /// A behaviour enforcing `filters`.
    pub fn new(filters: Arc<AddrFilters>) -> Self {
        Self { filters }
    }

    fn check_remote(&self, remote: &Multiaddr) -> Result<(), ConnectionDenied> {
        match self.filters.blocked_by(remote) {
            Some(filter) => {
                tracing::debug!("refusing connection from {remote}: address filter {filter}");
                Err(ConnectionDenied::new(AddrFiltered {
                    addr: remote.clone(),
                    filter: filter.clone(),
                }))
            }
            None => Ok(()),
        }
    }
}

impl NetworkBehaviour for Behaviour {
    type ConnectionHandler = dummy::ConnectionHandler;
    type ToSwarm = Infallible;

    fn handle_pending_inbound_connection(
        &mut self,
        _: ConnectionId,
        _local: &Multiaddr,
        remote: &Multiaddr,
    ) -> Result<(), ConnectionDenied> {
        self.check_remote(remote)
    }

    fn handle_established_inbound_connection(
        &mut self,
        _: ConnectionId,
        _: PeerId,
        _local: &Multiaddr,
        remote: &Multiaddr,
    ) -> Result<THandler<Self>, ConnectionDenied> {
        self.check_remote(remote)?;
        Ok(dummy::ConnectionHandler)
    }

    fn handle_pending_outbound_connection(
        &mut self,
        _: ConnectionId,
        peer: Option<PeerId>,
        addresses: &[Multiaddr],
        _: Endpoint,
    ) -> Result<Vec<Multiaddr>, ConnectionDenied> {
        if peer.is_none() && !addresses.is_empty() && !self.filters.is_empty() {
            let blocked: Vec<_> = addresses
                .iter()
                .map(|a| self.filters.blocked_by(a).map(|f| (a, f)))
                .collect::<Option<_>>()
                .unwrap_or_default();
            if let Some((addr, filter)) = blocked.first() {
                return Err(ConnectionDenied::new(AddrFiltered {
                    addr: (*addr).clone(),
                    filter: (*filter).clone(),
                }));
            }
        }
        Ok(Vec::new())
    }

    fn handle_established_outbound_connection(
        &mut self,
        _: ConnectionId,
        _: PeerId,
        _: &Multiaddr,
        _: Endpoint,
        _: PortUse,
    ) -> Result<THandler<Self>, ConnectionDenied> {
        Ok(dummy::ConnectionHandler)
    }

    fn on_swarm_event(&mut self, _: FromSwarm) {}

    fn on_connection_handler_event(
        &mut self,
        _: PeerId,
        _: ConnectionId,
        event: THandlerOutEvent<Self>,
    ) {
        match event {}
    }

    fn poll(&mut self, _: &mut Context<'_>) -> Poll<ToSwarm<Self::ToSwarm, THandlerInEvent<Self>>> {
        Poll::Pending
    }
}

/// A transport that refuses to dial filtered addresses, with an
/// [`AddrFiltered`] error (as an `io::Error` of kind `PermissionDenied`).
pub struct FilteredTransport<T> {
    inner: T,
    filters: Arc<AddrFilters>,
}

impl<T> FilteredTransport<T> {
    /// Wraps `inner`.
    pub fn new(inner: T, filters: Arc<AddrFilters>) -> Self {
        Self { inner, filters }
    }
}

impl<T> Transport for FilteredTransport<T>
where
    T: Transport<Error = io::Error> + Unpin,
{
    type Output = T::Output;
    type Error = io::Error;
    type ListenerUpgrade = T::ListenerUpgrade;
    type Dial = T::Dial;

    fn listen_on(
        &mut self,
        id: ListenerId,
        addr: Multiaddr,
    ) -> Result<(), TransportError<io::Error>> {
        self.inner.listen_on(id, addr)
    }

    fn remove_listener(&mut self, id: ListenerId) -> bool {
        self.inner.remove_listener(id)
    }

    fn dial(
        &mut self,
        addr: Multiaddr,
        opts: DialOpts,
    ) -> Result<Self::Dial, TransportError<io::Error>> {
        if let Some(filter) = self.filters.blocked_by(&addr) {
            let filter = filter.clone();
            return Err(TransportError::Other(io::Error::new(
                io::ErrorKind::PermissionDenied,
                AddrFiltered { addr, filter },
            )));
        }
        self.inner.dial(addr, opts)
    }

    fn poll(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<TransportEvent<Self::ListenerUpgrade, io::Error>> {
        Pin::new(&mut self.get_mut().inner).poll(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ma(s: &str) -> Multiaddr {
        s.parse().unwrap()
    }

    #[test]
    fn ranges_match_by_prefix() {
        let f =
            AddrFilters::new(&[ma("/ip4/10.0.0.0/ipcidr/8"), ma("/ip6/fe80::/ipcidr/10")]).unwrap();
        assert!(f.is_blocked(&ma("/ip4/10.1.2.3/tcp/4001")));
        assert!(f.is_blocked(&ma("/ip6/fe80::1/udp/4001/quic-v1")));
        assert!(!f.is_blocked(&ma("/ip4/11.0.0.1/tcp/4001")));
        assert!(!f.is_blocked(&ma("/ip4/127.0.0.1/tcp/4001")));
        assert!(!f.is_blocked(&ma("/ip6/::1/tcp/4001")));
        assert!(!f.is_blocked(&ma("/dns4/example.com/tcp/4001")));
        assert_eq!(
            f.blocked_by(&ma("/ip4/10.9.9.9/tcp/1")),
            Some(&ma("/ip4/10.0.0.0/ipcidr/8"))
        );
        let all = AddrFilters::new(&[ma("/ip4/0.0.0.0/ipcidr/0")]).unwrap();
        assert!(all.is_blocked(&ma("/ip4/1.2.3.4/tcp/1")));
        let one = AddrFilters::new(&[ma("/ip4/1.2.3.4")]).unwrap();
        assert!(one.is_blocked(&ma("/ip4/1.2.3.4/tcp/1")));
        assert!(!one.is_blocked(&ma("/ip4/1.2.3.5/tcp/1")));
    }

    #[test]
    fn bad_ranges_name_the_entry() {
        for bad in ["/ip4/10.0.0.0/ipcidr/33", "/tcp/80", "/ip4/1.2.3.4/tcp/1"] {
            let (entry, _) = AddrFilters::new(&[ma(bad)]).unwrap_err();
            assert_eq!(entry, ma(bad));
        }
    }

    #[test]
    fn no_announce_exact_and_ranges() {
        let n = NoAnnounce::new(&[
            ma("/ip4/192.168.0.0/ipcidr/16"),
            ma("/ip4/127.0.0.1/tcp/4001"),
        ])
        .unwrap();
        assert!(n.blocks(&ma("/ip4/192.168.1.1/tcp/4001")));
        assert!(n.blocks(&ma("/ip4/127.0.0.1/tcp/4001")));
        assert!(!n.blocks(&ma("/ip4/127.0.0.1/tcp/4002")));
        assert!(!n.blocks(&ma("/ip4/127.0.0.1/udp/4001/quic-v1")));
    }
}
