//! `Swarm.AddrFilters`, `Addresses.Announce`/`AppendAnnounce`/`NoAnnounce`,
//! the connection caps and bandwidth counting. Loopback only.

mod common;

use std::time::Duration;

use common::{drive, listen_addr, Side};
use ferrite_p2p::libp2p::identity::Keypair;
use ferrite_p2p::libp2p::kad;
use ferrite_p2p::libp2p::memory_connection_limits::MemoryUsageLimitExceeded;
use ferrite_p2p::libp2p::multiaddr::Protocol;
use ferrite_p2p::libp2p::swarm::{dummy, DialError, ListenError, SwarmEvent};
use ferrite_p2p::libp2p::Multiaddr;
use ferrite_p2p::{AddrFiltered, BehaviourEvent, Host, HostBuilder, HostConfig, HostError};

fn ma(s: &str) -> Multiaddr {
    s.parse().unwrap()
}

fn build(config: HostConfig) -> Host<dummy::Behaviour> {
    HostBuilder::new(Keypair::generate_ed25519(), config)
        .build()
        .unwrap()
}

fn with_filters(filters: &[&str]) -> Host<dummy::Behaviour> {
    build(HostConfig {
        addr_filters: filters.iter().map(|f| ma(f)).collect(),
        ..common::config(None)
    })
}

/// Drives both hosts until `a` has a connection established to `b`.
async fn connect(a: &mut Host<dummy::Behaviour>, b: &mut Host<dummy::Behaviour>) {
    let b_addr = listen_addr(b).await;
    let b_id = b.local_peer_id();
    a.dial(b_addr.with(Protocol::P2p(b_id))).unwrap();
    drive(a, b, 10, |side, e| match e {
        SwarmEvent::ConnectionEstablished { peer_id, .. }
            if side == Side::A && *peer_id == b_id =>
        {
            Some(())
        }
        SwarmEvent::OutgoingConnectionError { error, .. } if side == Side::A => {
            panic!("dial failed: {error}")
        }
        _ => None,
    })
    .await;
}

#[tokio::test]
async fn addr_filter_blocks_dials_and_refuses_inbound() {
    let mut a = with_filters(&["/ip4/127.0.0.0/ipcidr/8"]);
    let mut b = common::host(None);
    let b_addr = listen_addr(&mut b).await;
    let a_addr = listen_addr(&mut a).await;
    let b_id = b.local_peer_id();

    // A dial without a peer ID whose only address is filtered is denied
    // at once, naming the filter.
    match a.dial(b_addr.clone()) {
        Err(DialError::Denied { cause }) => {
            let f = cause.downcast_ref::<AddrFiltered>().expect("AddrFiltered");
            assert_eq!(f.filter, ma("/ip4/127.0.0.0/ipcidr/8"));
            assert!(f.to_string().contains("Swarm.AddrFilters"), "{f}");
        }
        other => panic!("expected a denied dial, got {other:?}"),
    }

    // With a peer ID, the transport fails each filtered address.
    a.dial(b_addr.clone().with(Protocol::P2p(b_id))).unwrap();
    let err = drive(&mut a, &mut b, 10, |side, e| match e {
        SwarmEvent::OutgoingConnectionError { error, .. } if side == Side::A => {
            Some(error.to_string())
        }
        SwarmEvent::ConnectionEstablished { .. } => panic!("filtered dial connected"),
        _ => None,
    })
    .await;
    assert!(err.contains("Swarm.AddrFilters"), "{err}");

    // B (no filters) dials A: A refuses the connection from 127.0.0.1.
    b.dial(a_addr).unwrap();
    let refused = drive(&mut a, &mut b, 10, |side, e| match e {
        SwarmEvent::IncomingConnectionError {
            error: ListenError::Denied { cause },
            ..
        } if side == Side::A => Some(cause.downcast_ref::<AddrFiltered>().is_some()),
        SwarmEvent::ConnectionEstablished { .. } if side == Side::A => {
            panic!("A accepted a filtered connection")
        }
        _ => None,
    })
    .await;
    assert!(refused);
}

#[tokio::test]
async fn unrelated_filters_do_not_affect_loopback() {
    let mut a = with_filters(&["/ip4/10.0.0.0/ipcidr/8", "/ip6/fe80::/ipcidr/10"]);
    let mut b = with_filters(&["/ip4/10.0.0.0/ipcidr/8"]);
    connect(&mut a, &mut b).await;
}

#[test]
fn malformed_ranges_are_refused() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let _guard = rt.enter();
    for (config, field) in [
        (
            HostConfig {
                addr_filters: vec![ma("/ip4/10.0.0.0/ipcidr/33")],
                ..HostConfig::default()
            },
            "Swarm.AddrFilters",
        ),
        (
            HostConfig {
                no_announce: vec![ma("/ip4/10.0.0.0/tcp/1/ipcidr/8")],
                ..HostConfig::default()
            },
            "Addresses.NoAnnounce",
        ),
    ] {
        match HostBuilder::new(Keypair::generate_ed25519(), config).build() {
            Err(e @ HostError::BadAddrRange { .. }) => {
                assert!(e.to_string().starts_with(field), "{e}")
            }
            Err(e) => panic!("unexpected error {e}"),
            Ok(_) => panic!("malformed range accepted"),
        }
    }
}

#[tokio::test]
async fn listen_addresses_are_announced_by_default() {
    let mut a = common::host(None);
    let addr = listen_addr(&mut a).await;
    assert_eq!(a.announced_addrs(), vec![addr.clone()]);
    assert_eq!(a.provider_addrs(), vec![addr.clone()]);
    assert!(a.swarm().external_addresses().any(|x| *x == addr));
}

#[tokio::test]
async fn no_announce_hides_addresses_everywhere() {
    let mut a = build(HostConfig {
        no_announce: vec![ma("/ip4/127.0.0.1/ipcidr/32")],
        append_announce: vec![ma("/ip4/127.0.0.2/tcp/4001")],
        ..common::config(None)
    });
    let mut b = common::host(None);
    let a_listen = listen_addr(&mut a).await;
    let expected = vec![ma("/ip4/127.0.0.2/tcp/4001")];
    assert_eq!(a.announced_addrs(), expected);
    assert_eq!(a.provider_addrs(), expected);
    assert!(!a.swarm().external_addresses().any(|x| *x == a_listen));

    // B learns A's addresses through identify: only the announced one.
    let a_id = a.local_peer_id();
    b.dial(a_listen.clone().with(Protocol::P2p(a_id))).unwrap();
    let seen = drive(&mut a, &mut b, 10, |side, e| match e {
        SwarmEvent::Behaviour(BehaviourEvent::Identify(
            ferrite_p2p::libp2p::identify::Event::Received { peer_id, info, .. },
        )) if side == Side::B && *peer_id == a_id => Some(info.listen_addrs.clone()),
        _ => None,
    })
    .await;
    assert!(!seen.contains(&a_listen), "{seen:?}");
    assert!(seen.contains(&expected[0]), "{seen:?}");
}

#[tokio::test]
async fn announce_replaces_and_no_announce_filters_it() {
    let mut a = build(HostConfig {
        announce: vec![ma("/ip4/127.0.0.3/tcp/1"), ma("/ip4/127.0.0.4/tcp/2")],
        append_announce: vec![ma("/ip4/127.0.0.5/tcp/3")],
        no_announce: vec![ma("/ip4/127.0.0.4/tcp/2")],
        ..common::config(None)
    });
    let listen = listen_addr(&mut a).await;
    let expected = vec![ma("/ip4/127.0.0.3/tcp/1"), ma("/ip4/127.0.0.5/tcp/3")];
    assert_eq!(a.announced_addrs(), expected);
    assert_eq!(a.provider_addrs(), expected);
    let mut external: Vec<Multiaddr> = a.swarm().external_addresses().cloned().collect();
    external.sort();
    assert_eq!(external, expected);
    assert!(!external.contains(&listen));
}

#[tokio::test]
async fn connection_cap_refuses_extra_connections_but_not_protected_peers() {
    let mut c = build(HostConfig {
        max_connections: Some(1),
        ..common::config(None)
    });
    let mut a = common::host(None);
    let mut b = common::host(None);
    connect(&mut a, &mut c).await;
    let c_addr = c.swarm().listeners().next().unwrap().clone();
    let c_id = c.local_peer_id();

    // A second peer is over the cap; run A in the background meanwhile.
    let b_id = b.local_peer_id();
    b.dial(c_addr.clone().with(Protocol::P2p(c_id))).unwrap();
    let a_task = tokio::spawn(async move {
        loop {
            a.next_event().await;
        }
    });
    let refused = drive(&mut b, &mut c, 10, |side, e| match e {
        SwarmEvent::IncomingConnectionError {
            error: ListenError::Denied { .. },
            ..
        } if side == Side::B => Some(true),
        SwarmEvent::ConnectionEstablished { peer_id, .. }
            if side == Side::B && *peer_id == b_id =>
        {
            Some(false)
        }
        _ => None,
    })
    .await;
    assert!(refused, "second connection was accepted above the cap");

    // Protected peers bypass the cap.
    c.protect(b_id);
    b.dial(c_addr.with(Protocol::P2p(c_id))).unwrap();
    drive(&mut b, &mut c, 10, |side, e| match e {
        SwarmEvent::ConnectionEstablished { peer_id, .. }
            if side == Side::B && *peer_id == b_id =>
        {
            Some(())
        }
        SwarmEvent::IncomingConnectionError { error, .. } if side == Side::B => {
            panic!("protected peer refused: {error}")
        }
        _ => None,
    })
    .await;
    a_task.abort();
}

#[tokio::test]
async fn memory_limit_refuses_new_connections() {
    let mut a = build(HostConfig {
        max_memory_bytes: Some(1),
        ..common::config(None)
    });
    let mut b = common::host(None);
    let b_addr = listen_addr(&mut b).await;
    match a.dial(b_addr) {
        Err(DialError::Denied { cause }) => {
            assert!(cause.downcast_ref::<MemoryUsageLimitExceeded>().is_some())
        }
        other => panic!("expected a denied dial, got {other:?}"),
    }
}

#[tokio::test]
async fn bandwidth_counts_transfers_on_both_sides() {
    let mut a = common::host(None);
    let mut b = common::host(None);
    let (a_bw, b_bw) = (a.bandwidth(), b.bandwidth());
    assert_eq!(a_bw.totals(), (0, 0));
    connect(&mut a, &mut b).await;
    let payload = 10_000usize;
    let record = kad::Record::new(b"/pk/bw-test".to_vec(), vec![7u8; payload]);
    let b_id = b.local_peer_id();
    let (before_out, before_in) = (a_bw.total_out(), b_bw.total_in());
    a.behaviour_mut()
        .kad
        .put_record_to(record, std::iter::once(b_id), kad::Quorum::One);
    drive(&mut a, &mut b, 10, |side, e| match e {
        SwarmEvent::Behaviour(BehaviourEvent::Kad(kad::Event::OutboundQueryProgressed {
            result: kad::QueryResult::PutRecord(_),
            ..
        })) if side == Side::A => Some(()),
        _ => None,
    })
    .await;
    // Let B finish reading.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while b_bw.total_in() - before_in < payload as u64 && tokio::time::Instant::now() < deadline {
        tokio::select! {
            _ = a.next_event() => {}
            _ = b.next_event() => {}
            _ = tokio::time::sleep(Duration::from_millis(50)) => {}
        }
    }
    assert!(
        a_bw.total_out() - before_out >= payload as u64,
        "{:?}",
        a_bw
    );
    assert!(b_bw.total_in() - before_in >= payload as u64, "{:?}", b_bw);
    // Replies flowed the other way, too.
    assert!(a_bw.total_in() > 0 && b_bw.total_out() > 0);
    assert_eq!(a.bandwidth().totals(), a_bw.totals());
}
