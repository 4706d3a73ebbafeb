//! Helpers shared by the host tests: hosts on 127.0.0.1 with random ports.
#![allow(dead_code)]

use std::time::Duration;

use ferrite_p2p::libp2p::identity::Keypair;
use ferrite_p2p::libp2p::swarm::{dummy, SwarmEvent};
use ferrite_p2p::libp2p::Multiaddr;
use ferrite_p2p::{BehaviourEvent, Host, HostBuilder, HostConfig, KadMode, SwarmKey};

pub(crate) type Event = SwarmEvent<BehaviourEvent<dummy::Behaviour>>;

pub(crate) fn config(key: Option<&SwarmKey>) -> HostConfig {
    HostConfig {
        listen_addrs: vec!["/ip4/127.0.0.1/tcp/0".parse().unwrap()],
        swarm_key: key.cloned(),
        // Server mode so identify lists the DHT protocol; short handshake
        // limit because a keyed/unkeyed pair stalls until it.
        kad_mode: KadMode::Server,
        connect_timeout: Duration::from_secs(1),
        handshake_timeout: Duration::from_secs(3),
        ..HostConfig::default()
    }
}

pub(crate) fn host_with(keypair: Keypair, key: Option<&SwarmKey>) -> Host<dummy::Behaviour> {
    HostBuilder::new(keypair, config(key)).build().unwrap()
}

pub(crate) fn host(key: Option<&SwarmKey>) -> Host<dummy::Behaviour> {
    host_with(Keypair::generate_ed25519(), key)
}

/// Drives `host` until it reports its first listen address.
pub(crate) async fn listen_addr(host: &mut Host<dummy::Behaviour>) -> Multiaddr {
    tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            if let SwarmEvent::NewListenAddr { address, .. } = host.next_event().await {
                return address;
            }
        }
    })
    .await
    .expect("no listen address")
}

/// Which host an event came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Side {
    A,
    B,
}

/// Drives both hosts until `done` returns `Some`, or panics after `secs`.
pub(crate) async fn drive<T>(
    a: &mut Host<dummy::Behaviour>,
    b: &mut Host<dummy::Behaviour>,
    secs: u64,
    mut done: impl FnMut(Side, &Event) -> Option<T>,
) -> T {
    tokio::time::timeout(Duration::from_secs(secs), async {
        loop {
            let (side, event) = tokio::select! {
                e = a.next_event() => (Side::A, e),
                e = b.next_event() => (Side::B, e),
            };
            if let Some(t) = done(side, &event) {
                return t;
            }
        }
    })
    .await
    .expect("timed out driving hosts")
}
