//! Two hosts on 127.0.0.1: private networks, key types, QUIC refusal,
//! connection limits.

mod common;

use std::time::Duration;

use common::{drive, host, host_with, listen_addr, Side};
use ferrite_p2p::libp2p::identity::Keypair;
use ferrite_p2p::libp2p::swarm::SwarmEvent;
use ferrite_p2p::libp2p::{identify, ping, Multiaddr};
use ferrite_p2p::{
    is_pnet_mismatch, is_pnet_mismatch_incoming, BehaviourEvent, ConnMgrConfig, HostBuilder,
    HostConfig, HostError, SwarmKey,
};

#[tokio::test]
async fn same_key_connects_pings_and_identifies() {
    let key = SwarmKey::generate();
    let mut a = host(Some(&key));
    let mut b = host(Some(&key));
    assert!(a.is_private());
    let addr = listen_addr(&mut a).await;
    b.dial(addr).unwrap();
    let a_id = a.local_peer_id();
    let (mut pinged, mut identified) = (false, false);
    drive(&mut a, &mut b, 20, |side, ev| {
        match (side, ev) {
            (
                Side::B,
                SwarmEvent::Behaviour(BehaviourEvent::Ping(ping::Event {
                    peer,
                    result: Ok(_),
                    ..
                })),
            ) if *peer == a_id => pinged = true,
            (
                Side::B,
                SwarmEvent::Behaviour(BehaviourEvent::Identify(identify::Event::Received {
                    info,
                    ..
                })),
            ) => {
                assert_eq!(info.agent_version, ferrite_p2p::agent_version());
                assert_eq!(info.protocol_version, "ipfs/0.1.0");
                assert!(info
                    .protocols
                    .iter()
                    .any(|p| p.as_ref() == "/ipfs/kad/1.0.0"));
                identified = true;
            }
            _ => {}
        }
        (pinged && identified).then_some(())
    })
    .await;
}

/// Dials `b` → `a` and returns (B saw a mismatch on its dial, A saw one on
/// the incoming side), waiting until the dial fails.
async fn failed_dial(key_a: Option<&SwarmKey>, key_b: Option<&SwarmKey>) -> (bool, bool) {
    let mut a = host(key_a);
    let mut b = host(key_b);
    let addr = listen_addr(&mut a).await;
    b.dial(addr).unwrap();
    let mut incoming_mismatch = false;
    let mut outgoing = None;
    // Wait for B's dial error, then give A a moment to report its side.
    drive(&mut a, &mut b, 20, |side, ev| {
        match (side, ev) {
            (_, SwarmEvent::ConnectionEstablished { .. }) => panic!("connected across networks"),
            (Side::B, SwarmEvent::OutgoingConnectionError { error, .. }) => {
                outgoing = Some(is_pnet_mismatch(error));
            }
            (Side::A, SwarmEvent::IncomingConnectionError { error, .. }) => {
                incoming_mismatch |= is_pnet_mismatch_incoming(error);
            }
            _ => {}
        }
        (outgoing.is_some() && (incoming_mismatch || key_a.is_none())).then_some(())
    })
    .await;
    (outgoing.unwrap(), incoming_mismatch)
}

#[tokio::test]
async fn different_keys_fail_as_mismatch_on_both_sides() {
    let (out, inc) = failed_dial(Some(&SwarmKey::generate()), Some(&SwarmKey::generate())).await;
    assert!(out, "dialer did not report a key mismatch");
    assert!(inc, "listener did not report a key mismatch");
}

#[tokio::test]
async fn private_dialer_to_public_listener_is_a_mismatch() {
    let (out, _) = failed_dial(None, Some(&SwarmKey::generate())).await;
    assert!(out);
}

#[tokio::test]
async fn public_dialer_to_private_listener_is_a_mismatch_for_the_listener() {
    let (out, inc) = failed_dial(Some(&SwarmKey::generate()), None).await;
    // The dialer has no key, so its failure is not a key mismatch of its own.
    assert!(!out);
    assert!(inc);
}

#[tokio::test]
async fn connection_refused_is_not_a_mismatch() {
    let key = SwarmKey::generate();
    let mut a = host(Some(&key));
    let mut b = host(Some(&key));
    let addr = listen_addr(&mut a).await;
    drop(a);
    tokio::time::sleep(Duration::from_millis(200)).await;
    b.dial(addr).unwrap();
    let error = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            if let SwarmEvent::OutgoingConnectionError { error, .. } = b.next_event().await {
                return error;
            }
        }
    })
    .await
    .unwrap();
    assert!(!is_pnet_mismatch(&error), "{error}");
}

#[tokio::test]
async fn quic_is_refused_under_a_key() {
    for addr in [
        "/ip4/127.0.0.1/udp/0/quic-v1",
        "/ip4/127.0.0.1/udp/0/quic-v1/webtransport",
    ] {
        let config = HostConfig {
            listen_addrs: vec![addr.parse().unwrap()],
            swarm_key: Some(SwarmKey::generate()),
            ..HostConfig::default()
        };
        let err = HostBuilder::new(Keypair::generate_ed25519(), config)
            .build()
            .err()
            .unwrap();
        assert!(
            matches!(err, HostError::TransportNotPrivate { .. }),
            "{err}"
        );
        assert!(err.to_string().contains("private networks"));
    }
    // Later additions are refused too.
    let mut a = host(Some(&SwarmKey::generate()));
    let quic: Multiaddr = "/ip4/127.0.0.1/udp/0/quic-v1".parse().unwrap();
    assert!(matches!(
        a.listen_on(quic),
        Err(HostError::TransportNotPrivate { .. })
    ));
}

#[tokio::test]
async fn quic_works_without_a_key() {
    let config = HostConfig {
        listen_addrs: vec!["/ip4/127.0.0.1/udp/0/quic-v1".parse().unwrap()],
        ..HostConfig::default()
    };
    let mut a = HostBuilder::new(Keypair::generate_ed25519(), config.clone())
        .build()
        .unwrap();
    let mut b = HostBuilder::new(Keypair::generate_ed25519(), config)
        .build()
        .unwrap();
    let addr = listen_addr(&mut a).await;
    assert!(addr.to_string().contains("quic-v1"));
    b.dial(addr).unwrap();
    let a_id = a.local_peer_id();
    drive(&mut a, &mut b, 20, |side, ev| match (side, ev) {
        (Side::B, SwarmEvent::ConnectionEstablished { peer_id, .. }) if *peer_id == a_id => {
            Some(())
        }
        _ => None,
    })
    .await;
}

async fn connects(keypair: Keypair) {
    let key = SwarmKey::generate();
    let mut a = host(Some(&key));
    let mut b = host_with(keypair, Some(&key));
    let addr = listen_addr(&mut a).await;
    b.dial(addr).unwrap();
    let (a_id, b_id) = (a.local_peer_id(), b.local_peer_id());
    drive(&mut a, &mut b, 30, |side, ev| match (side, ev) {
        (
            Side::A,
            SwarmEvent::Behaviour(BehaviourEvent::Ping(ping::Event {
                peer,
                result: Ok(_),
                ..
            })),
        ) if *peer == b_id => Some(()),
        (Side::B, SwarmEvent::OutgoingConnectionError { error, .. }) => panic!("{error}"),
        _ => {
            let _ = a_id;
            None
        }
    })
    .await;
}

#[tokio::test]
async fn rsa_identity_connects_to_ed25519() {
    // A 2048-bit RSA key in PKCS#8, as Kubo v0.22 generates by default.
    let der = include_bytes!("data/rsa2048.pk8");
    let mut der = der.to_vec();
    connects(Keypair::rsa_from_pkcs8(&mut der).unwrap()).await;
}

#[tokio::test]
async fn secp256k1_identity_connects_to_ed25519() {
    connects(Keypair::generate_secp256k1()).await;
}

#[tokio::test]
async fn ecdsa_identity_connects_to_ed25519() {
    connects(Keypair::generate_ecdsa()).await;
}

#[tokio::test]
async fn connection_manager_trims_above_high_water_but_keeps_protected_peers() {
    let key = SwarmKey::generate();
    let config = HostConfig {
        listen_addrs: vec!["/ip4/127.0.0.1/tcp/0".parse().unwrap()],
        swarm_key: Some(key.clone()),
        conn_mgr: ConnMgrConfig {
            low_water: 1,
            high_water: 2,
            grace_period: Duration::from_millis(300),
            check_interval: Duration::from_millis(100),
        },
        ..HostConfig::default()
    };
    let mut hub = HostBuilder::new(Keypair::generate_ed25519(), config)
        .build()
        .unwrap();
    let addr = listen_addr(&mut hub).await;
    let mut spokes: Vec<_> = (0..4).map(|_| host(Some(&key))).collect();
    // The first spoke is protected, and connects first (so it is the oldest).
    hub.protect(spokes[0].local_peer_id());
    let protected = spokes[0].local_peer_id();
    for spoke in spokes.iter_mut() {
        spoke.dial(addr.clone()).unwrap();
    }
    // Drive everything; spokes run in background tasks.
    let mut handles = Vec::new();
    for mut spoke in spokes.drain(..) {
        handles.push(tokio::spawn(async move {
            loop {
                spoke.next_event().await;
            }
        }));
    }
    let mut max_seen = 0;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let ev = tokio::time::timeout_at(deadline, hub.next_event())
            .await
            .expect("timed out");
        if let SwarmEvent::ConnectionEstablished { .. } = ev {
            max_seen = max_seen.max(hub.swarm().network_info().num_peers());
        }
        let peers: Vec<_> = hub.swarm().connected_peers().copied().collect();
        if max_seen >= 3 && peers.len() == 1 {
            assert_eq!(peers, vec![protected]);
            break;
        }
    }
    assert_eq!(hub.conn_manager().len(), 1);
    for h in handles {
        h.abort();
    }
}

#[test]
fn inconsistent_limits_are_refused() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let _guard = rt.enter();
    let mut config = common::config(None);
    config.conn_mgr.low_water = 10;
    config.conn_mgr.high_water = 5;
    let err = HostBuilder::new(Keypair::generate_ed25519(), config)
        .build()
        .err()
        .unwrap();
    assert!(
        matches!(err, HostError::BadConnLimits { low: 10, high: 5 }),
        "{err}"
    );
    let mut config = common::config(None);
    config.connect_timeout = config.handshake_timeout;
    let err = HostBuilder::new(Keypair::generate_ed25519(), config)
        .build()
        .err()
        .unwrap();
    assert!(matches!(err, HostError::BadTimeouts), "{err}");
}
