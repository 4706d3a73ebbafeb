//! `LIBP2P_FORCE_PNET=1`: its own test binary, because it sets a process-wide
//! environment variable.

use ferrite_p2p::libp2p::identity::Keypair;
use ferrite_p2p::{HostBuilder, HostConfig, HostError, SwarmKey, FORCE_PNET_ENV};

fn build(key: Option<SwarmKey>) -> Result<(), HostError> {
    let config = HostConfig {
        listen_addrs: vec!["/ip4/127.0.0.1/tcp/0".parse().unwrap()],
        swarm_key: key,
        ..HostConfig::default()
    };
    HostBuilder::new(Keypair::generate_ed25519(), config)
        .build()
        .map(drop)
}

#[tokio::test]
async fn force_pnet_requires_a_key_only_when_exactly_1() {
    // SAFETY: the only test in this binary, so nothing reads the
    // environment concurrently.
    unsafe { std::env::set_var(FORCE_PNET_ENV, "1") };
    let err = build(None).unwrap_err();
    assert!(matches!(err, HostError::PrivateNetworkForced));
    assert_eq!(
        err.to_string(),
        "private network was not configured but is enforced by the environment"
    );
    build(Some(SwarmKey::generate())).unwrap();
    for other in ["true", "0", "yes", " 1"] {
        // SAFETY: as above, no other thread reads the environment.
        unsafe { std::env::set_var(FORCE_PNET_ENV, other) };
        build(None).unwrap();
    }
    // SAFETY: as above.
    unsafe { std::env::remove_var(FORCE_PNET_ENV) };
    build(None).unwrap();
}
