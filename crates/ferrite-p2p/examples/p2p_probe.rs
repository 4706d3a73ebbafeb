//! A minimal host for interop tests: listens, optionally dials, and prints
//! one JSON object per line on stdout for every connection-level event.
//!
//! ```text
//! p2p_probe [--listen MULTIADDR] [--swarm-key FILE] [--dial MULTIADDR] [--secs N]
//! ```
//!
//! Lines: `{"listening": ADDR, "id": PEER}`, `{"connected": PEER, "endpoint":
//! "dialer"|"listener"}`, `{"disconnected": PEER}`, `{"identified": PEER,
//! "agent": AGENT}`, `{"ping": PEER, "rtt_ms": MS}`, `{"error": MSG,
//! "direction": "outgoing"|"incoming", "pnet_mismatch": BOOL}`. Exits after
//! `--secs` (default 30) or when stdin closes.

use std::time::Duration;

use ferrite_p2p::libp2p::identity::Keypair;
use ferrite_p2p::libp2p::swarm::SwarmEvent;
use ferrite_p2p::libp2p::{identify, ping, Multiaddr};
use ferrite_p2p::{
    is_pnet_mismatch, is_pnet_mismatch_incoming, BehaviourEvent, HostBuilder, HostConfig, SwarmKey,
};
use serde_json::json;

fn usage() -> ! {
    eprintln!(
        "usage: p2p_probe [--listen MULTIADDR] [--swarm-key FILE] [--dial MULTIADDR] [--secs N]"
    );
    std::process::exit(2)
}

fn emit(v: serde_json::Value) {
    println!("{v}");
}

#[tokio::main]
async fn main() {
    let mut listen: Multiaddr = "/ip4/127.0.0.1/tcp/0".parse().unwrap();
    let (mut key, mut dial, mut secs) = (None, None, 30u64);
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let value = args.next().unwrap_or_else(|| usage());
        match arg.as_str() {
            "--listen" => listen = value.parse().unwrap_or_else(|_| usage()),
            "--swarm-key" => match SwarmKey::from_file(&value) {
                Ok(k) => key = Some(k),
                Err(e) => {
                    emit(json!({"error": e.to_string()}));
                    std::process::exit(1)
                }
            },
            "--dial" => dial = Some(value.parse::<Multiaddr>().unwrap_or_else(|_| usage())),
            "--secs" => secs = value.parse().unwrap_or_else(|_| usage()),
            _ => usage(),
        }
    }
    if let Some(k) = &key {
        emit(json!({"fingerprint": k.fingerprint()}));
    }
    let config = HostConfig {
        listen_addrs: vec![listen],
        swarm_key: key,
        connect_timeout: Duration::from_secs(2),
        handshake_timeout: Duration::from_secs(5),
        ..HostConfig::default()
    };
    let mut host = match HostBuilder::new(Keypair::generate_ed25519(), config).build() {
        Ok(h) => h,
        Err(e) => {
            emit(json!({"error": e.to_string()}));
            std::process::exit(1)
        }
    };
    if let Some(addr) = dial {
        if let Err(e) = host.dial(addr) {
            emit(json!({"error": e.to_string(), "direction": "outgoing", "pnet_mismatch": false}));
        }
    }
    let id = host.local_peer_id().to_string();
    let deadline = tokio::time::sleep(Duration::from_secs(secs));
    tokio::pin!(deadline);
    // Exit when the test closes our stdin (so no probe outlives its test).
    std::thread::spawn(|| {
        let _ = std::io::copy(&mut std::io::stdin(), &mut std::io::sink());
        std::process::exit(0);
    });
    loop {
        let event = tokio::select! {
            e = host.next_event() => e,
            _ = &mut deadline => break,
        };
        match event {
            SwarmEvent::NewListenAddr { address, .. } => {
                emit(json!({"listening": address.to_string(), "id": id}))
            }
            SwarmEvent::ConnectionEstablished {
                peer_id, endpoint, ..
            } => emit(json!({
                "connected": peer_id.to_string(),
                "endpoint": if endpoint.is_dialer() { "dialer" } else { "listener" },
            })),
            SwarmEvent::ConnectionClosed {
                peer_id,
                num_established: 0,
                ..
            } => emit(json!({"disconnected": peer_id.to_string()})),
            SwarmEvent::OutgoingConnectionError { error, .. } => emit(json!({
                "error": error.to_string(),
                "direction": "outgoing",
                "pnet_mismatch": is_pnet_mismatch(&error),
            })),
            SwarmEvent::IncomingConnectionError { error, .. } => emit(json!({
                "error": error.to_string(),
                "direction": "incoming",
                "pnet_mismatch": is_pnet_mismatch_incoming(&error),
            })),
            SwarmEvent::Behaviour(BehaviourEvent::Identify(identify::Event::Received {
                peer_id,
                info,
                ..
            })) => emit(json!({"identified": peer_id.to_string(), "agent": info.agent_version})),
            SwarmEvent::Behaviour(BehaviourEvent::Ping(ping::Event {
                peer,
                result: Ok(rtt),
                ..
            })) => emit(json!({"ping": peer.to_string(), "rtt_ms": rtt.as_secs_f64() * 1e3})),
            _ => {}
        }
    }
}
