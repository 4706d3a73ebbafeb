//! The WARN line a key mismatch produces: its own test binary, because it
//! installs a global log subscriber.

mod common;

use std::io::Write;
use std::sync::{Arc, Mutex};

use common::{drive, host, listen_addr, Side};
use ferrite_p2p::libp2p::swarm::SwarmEvent;
use ferrite_p2p::{SwarmKey, PNET_MISMATCH_MESSAGE};

#[derive(Clone, Default)]
struct Buf(Arc<Mutex<Vec<u8>>>);

impl Write for Buf {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn key_mismatch_is_logged_in_plain_words_with_the_address() {
    let buf = Buf::default();
    let writer = buf.clone();
    tracing_subscriber::fmt()
        .with_max_level(tracing::Level::WARN)
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .init();
    let mut a = host(Some(&SwarmKey::generate()));
    let mut b = host(Some(&SwarmKey::generate()));
    let addr = listen_addr(&mut a).await;
    b.dial(addr.clone()).unwrap();
    let (mut out, mut inc) = (false, false);
    drive(&mut a, &mut b, 20, |side, ev| {
        match (side, ev) {
            (Side::B, SwarmEvent::OutgoingConnectionError { .. }) => out = true,
            (Side::A, SwarmEvent::IncomingConnectionError { .. }) => inc = true,
            _ => {}
        }
        (out && inc).then_some(())
    })
    .await;
    let log = String::from_utf8(buf.0.lock().unwrap().clone()).unwrap();
    let lines: Vec<&str> = log
        .lines()
        .filter(|l| l.contains(PNET_MISMATCH_MESSAGE))
        .collect();
    assert!(lines.iter().all(|l| l.contains("WARN")), "{log}");
    assert!(
        lines
            .iter()
            .any(|l| l.contains("outgoing") && l.contains(&addr.to_string())),
        "{log}"
    );
    assert!(lines.iter().any(|l| l.contains("incoming")), "{log}");
}
