//! The transport stack of Ferrite's libp2p hosts: TCP → pnet (with a swarm
//! key) → Noise → Yamux, plus QUIC-v1 on request outside private networks.
//!
//! [`TransportBuilder`] makes the boxed transport; [`HostBuilder`](crate::HostBuilder)
//! uses it for the IPFS host, and the cluster uses it for its own host
//! (keyed with the cluster secret). Connections that reach the peer over
//! TCP but fail afterwards fail with a [`HandshakeFailure`] inside the
//! transport error, which [`handshake_failure`] finds again.

use std::error::Error as StdError;
use std::fmt;
use std::io;
use std::time::Duration;

use either::Either;
use futures::{AsyncRead, AsyncReadExt as _, AsyncWrite, AsyncWriteExt as _};
use libp2p::core::muxing::StreamMuxerBox;
use libp2p::core::transport::timeout::{TransportTimeout, TransportTimeoutError};
use libp2p::core::transport::{Boxed, Transport as _};
use libp2p::core::upgrade::Version;
use libp2p::swarm::{DialError, ListenError};
use libp2p::{identity, noise, quic, tcp, yamux};
use libp2p::{PeerId, TransportError};

use crate::pnet::SwarmKey;
use crate::pnet_io::{self, PnetStream};

/// The message logged when a handshake fails in a way a differing swarm key
/// explains.
pub const PNET_MISMATCH_MESSAGE: &str =
    "private network key mismatch or peer not in private network";

/// Default for [`TransportBuilder::with_timeouts`]: the TCP connect.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// Default for [`TransportBuilder::with_timeouts`]: the whole connection
/// set-up, TCP connect and handshakes.
pub const DEFAULT_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(15);

/// Marks a connection that reached the peer over TCP but failed in the
/// private-network, multistream or Noise handshake: with a swarm key, the
/// usual cause is a differing key.
#[derive(Debug)]
pub struct HandshakeFailure {
    /// Whether this host uses a swarm key.
    pub private_network: bool,
    mismatch_message: &'static str,
    source: Box<dyn StdError + Send + Sync>,
}

impl HandshakeFailure {
    /// What failed underneath (a Noise error, a timeout, ...).
    pub fn cause(&self) -> &(dyn StdError + Send + Sync + 'static) {
        &*self.source
    }
}

impl fmt::Display for HandshakeFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.private_network {
            write!(f, "{} ({})", self.mismatch_message, self.source)
        } else {
            write!(
                f,
                "security handshake failed, the peer may be in a private network ({})",
                self.source
            )
        }
    }
}

impl StdError for HandshakeFailure {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        Some(&*self.source)
    }
}

/// The [`HandshakeFailure`] behind a failed connection, if the peer was
/// reached but the handshake failed (with a swarm key: most likely a
/// different key, or a peer outside the private network).
pub fn handshake_failure(err: &TransportError<io::Error>) -> Option<&HandshakeFailure> {
    match err {
        TransportError::Other(e) => find_failure(e),
        TransportError::MultiaddrNotSupported(_) => None,
    }
}

/// Whether a failed dial failed on a swarm-key mismatch (see
/// [`handshake_failure`]) for at least one address.
pub fn is_pnet_mismatch(err: &DialError) -> bool {
    match err {
        DialError::Transport(errors) => errors
            .iter()
            .any(|(_, e)| handshake_failure(e).is_some_and(|f| f.private_network)),
        _ => false,
    }
}

/// Whether a failed incoming connection failed on a swarm-key mismatch.
pub fn is_pnet_mismatch_incoming(err: &ListenError) -> bool {
    match err {
        ListenError::Transport(e) => handshake_failure(e).is_some_and(|f| f.private_network),
        _ => false,
    }
}

/// The boxed transport wraps our `io::Error` in another one, hence the
/// recursion.
fn find_failure(err: &io::Error) -> Option<&HandshakeFailure> {
    let inner = err.get_ref()?;
    if let Some(f) = inner.downcast_ref::<HandshakeFailure>() {
        return Some(f);
    }
    inner.downcast_ref::<io::Error>().and_then(find_failure)
}

/// Builds the transport of a Ferrite host.
///
/// ```
/// use std::time::Duration;
/// use ferrite_p2p::{SwarmKey, TransportBuilder};
///
/// # fn f() -> Result<(), libp2p::noise::Error> {
/// let keypair = libp2p::identity::Keypair::generate_ed25519();
/// let transport = TransportBuilder::new(keypair)
///     .with_swarm_key(SwarmKey::from_bytes([7; 32]))
///     .with_timeouts(Duration::from_secs(5), Duration::from_secs(10))
///     .build()?;
/// # drop(transport);
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct TransportBuilder {
    keypair: identity::Keypair,
    swarm_key: Option<SwarmKey>,
    key_check: Option<&'static [u8]>,
    mismatch_message: &'static str,
    quic: bool,
    connect_timeout: Duration,
    handshake_timeout: Duration,
}

impl fmt::Debug for TransportBuilder {
    // The swarm key stays out of logs.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TransportBuilder")
            .field("peer_id", &self.keypair.public().to_peer_id())
            .field("private_network", &self.swarm_key.is_some())
            .field("key_check", &self.key_check.is_some())
            .field("quic", &self.quic)
            .field("connect_timeout", &self.connect_timeout)
            .field("handshake_timeout", &self.handshake_timeout)
            .finish_non_exhaustive()
    }
}

impl TransportBuilder {
    /// TCP, Noise with this identity and Yamux; no private network, no
    /// QUIC, the default timeouts.
    pub fn new(keypair: identity::Keypair) -> Self {
        TransportBuilder {
            keypair,
            swarm_key: None,
            key_check: None,
            mismatch_message: PNET_MISMATCH_MESSAGE,
            quic: false,
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            handshake_timeout: DEFAULT_HANDSHAKE_TIMEOUT,
        }
    }

    /// Makes this a private network: every TCP connection is encrypted with
    /// `key` before Noise, as go-libp2p's pnet does, and QUIC is off.
    pub fn with_swarm_key(mut self, key: SwarmKey) -> Self {
        self.swarm_key = Some(key);
        self
    }

    /// Right after the pnet nonces, both sides send `token` encrypted and
    /// check the peer's.
    ///
    /// pnet has no MAC, so a wrong key only garbles what follows:
    /// multistream-select may then read a garbage length and wait for bytes
    /// that never come, and the dial hangs until the handshake timeout. The
    /// check turns a wrong key into an immediate error. Only for networks
    /// of Ferrite peers that all send the same token (other libp2p
    /// implementations do not); ignored without a swarm key.
    pub fn with_key_check(mut self, token: &'static [u8]) -> Self {
        self.key_check = Some(token);
        self
    }

    /// The text a [`HandshakeFailure`] in a private network starts with
    /// ([`PNET_MISMATCH_MESSAGE`] unless set), so that it names the key the
    /// user knows (e.g. a cluster secret).
    pub fn with_mismatch_message(mut self, message: &'static str) -> Self {
        self.mismatch_message = message;
        self
    }

    /// Also QUIC-v1, for networks without a swarm key (pnet protects byte
    /// streams, so a private network never uses QUIC).
    pub fn with_quic(mut self) -> Self {
        self.quic = true;
        self
    }

    /// `connect` bounds the TCP connect, `handshake` the whole set-up;
    /// `connect` should be the shorter, so that the handshake timeout
    /// firing means "reached the peer, but a handshake stalled".
    pub fn with_timeouts(mut self, connect: Duration, handshake: Duration) -> Self {
        self.connect_timeout = connect;
        self.handshake_timeout = handshake;
        self
    }

    /// Builds the transport. Errors after the TCP connection is up become
    /// [`HandshakeFailure`]s. Must run inside a Tokio runtime.
    pub fn build(self) -> Result<Boxed<(PeerId, StreamMuxerBox)>, noise::Error> {
        let noise = noise::Config::new(&self.keypair)?;
        let private_network = self.swarm_key.is_some();
        let mismatch_message = self.mismatch_message;
        let tcp = TransportTimeout::with_outgoing_timeout(
            tcp::tokio::Transport::new(tcp::Config::default().nodelay(true)),
            self.connect_timeout,
        )
        .map_err(|e| match e {
            TransportTimeoutError::Other(e) => e,
            TransportTimeoutError::Timeout => {
                io::Error::new(io::ErrorKind::TimedOut, "TCP connect timed out")
            }
            TransportTimeoutError::TimerError(e) => e,
        });
        let overall = self.handshake_timeout;
        let failure = move |source: Box<dyn StdError + Send + Sync>| {
            io::Error::other(HandshakeFailure {
                private_network,
                mismatch_message,
                source,
            })
        };
        let timeout_failure = move || failure("handshake timed out".into());
        Ok(match self.swarm_key {
            Some(key) => {
                let key_check = self.key_check;
                tcp.and_then(move |socket, _| {
                    let key = key.clone();
                    async move { private_handshake(socket, &key, key_check).await }
                })
                .upgrade(Version::V1Lazy)
                .authenticate(noise)
                .multiplex(yamux::Config::default())
                .timeout(overall)
                .map(|(peer, muxer), _| (peer, StreamMuxerBox::new(muxer)))
                .map_err(move |e| match e {
                    // The TCP error itself: the peer was not reached.
                    TransportTimeoutError::Other(Either::Left(Either::Left(Either::Left(e)))) => e,
                    TransportTimeoutError::Other(other) => failure(Box::new(other)),
                    TransportTimeoutError::Timeout => timeout_failure(),
                    TransportTimeoutError::TimerError(e) => e,
                })
                .boxed()
            }
            None => {
                let tcp = tcp
                    .upgrade(Version::V1Lazy)
                    .authenticate(noise)
                    .multiplex(yamux::Config::default())
                    .timeout(overall)
                    .map(|(peer, muxer), _| (peer, StreamMuxerBox::new(muxer)))
                    .map_err(move |e| match e {
                        TransportTimeoutError::Other(Either::Left(Either::Left(e))) => e,
                        TransportTimeoutError::Other(other) => failure(Box::new(other)),
                        TransportTimeoutError::Timeout => timeout_failure(),
                        TransportTimeoutError::TimerError(e) => e,
                    });
                if self.quic {
                    let quic = quic::tokio::Transport::new(quic::Config::new(&self.keypair))
                        .map(|(peer, conn), _| (peer, StreamMuxerBox::new(conn)));
                    tcp.or_transport(quic)
                        .map(|either, _| either.into_inner())
                        .boxed()
                } else {
                    tcp.boxed()
                }
            }
        })
    }
}

/// The pnet handshake, then the [`TransportBuilder::with_key_check`]
/// exchange if configured.
async fn private_handshake<S>(
    socket: S,
    key: &SwarmKey,
    key_check: Option<&'static [u8]>,
) -> io::Result<PnetStream<S>>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let mut stream = pnet_io::handshake(socket, key).await?;
    if let Some(token) = key_check {
        // Both sides write before reading: no deadlock.
        stream.write_all(token).await?;
        stream.flush().await?;
        let mut theirs = vec![0u8; token.len()];
        stream.read_exact(&mut theirs).await?;
        if theirs != token {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "the peer encrypts with a different pre-shared key",
            ));
        }
    }
    Ok(stream)
}
