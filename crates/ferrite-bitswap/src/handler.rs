//! The per-connection half of Bitswap.
//!
//! Kubo writes many messages on one long-lived stream and reads our answers
//! on a stream it accepted from us, so each connection keeps every inbound
//! stream open, reading frames in a loop, and one outbound stream (opened on
//! demand, negotiated to the best common version) for everything we send.

use std::collections::VecDeque;
use std::task::{Context, Poll};

use futures::future::BoxFuture;
use futures::stream::{BoxStream, SelectAll};
use futures::{FutureExt, StreamExt};
use libp2p::core::upgrade::{InboundUpgrade, OutboundUpgrade, UpgradeInfo};
use libp2p::swarm::handler::{
    ConnectionEvent, DialUpgradeError, FullyNegotiatedInbound, FullyNegotiatedOutbound,
};
use libp2p::swarm::{
    ConnectionHandler, ConnectionHandlerEvent, Stream, StreamProtocol, SubstreamProtocol,
};

use crate::message::{read_frame_within, write_frame, FrameBudget, Message};
use crate::Version;

/// Inbound streams a connection may hold at once; Kubo uses one.
const MAX_INBOUND_STREAMS: usize = 8;

/// Negotiates any of the given Bitswap versions, preferring the first.
#[derive(Debug, Clone)]
pub struct BitswapUpgrade {
    protocols: Vec<StreamProtocol>,
}

impl BitswapUpgrade {
    fn new(versions: &[Version]) -> Self {
        BitswapUpgrade {
            protocols: versions
                .iter()
                .flat_map(|v| v.protocols())
                .map(|p| StreamProtocol::new(p))
                .collect(),
        }
    }
}

impl UpgradeInfo for BitswapUpgrade {
    type Info = StreamProtocol;
    type InfoIter = std::vec::IntoIter<StreamProtocol>;
    fn protocol_info(&self) -> Self::InfoIter {
        self.protocols.clone().into_iter()
    }
}

impl InboundUpgrade<Stream> for BitswapUpgrade {
    type Output = (Stream, StreamProtocol);
    type Error = std::convert::Infallible;
    type Future = futures::future::Ready<Result<Self::Output, Self::Error>>;
    fn upgrade_inbound(self, s: Stream, p: StreamProtocol) -> Self::Future {
        futures::future::ready(Ok((s, p)))
    }
}

impl OutboundUpgrade<Stream> for BitswapUpgrade {
    type Output = (Stream, StreamProtocol);
    type Error = std::convert::Infallible;
    type Future = futures::future::Ready<Result<Self::Output, Self::Error>>;
    fn upgrade_outbound(self, s: Stream, p: StreamProtocol) -> Self::Future {
        futures::future::ready(Ok((s, p)))
    }
}

/// What the behaviour tells a handler.
#[derive(Debug)]
pub enum HandlerIn {
    /// Queue a message for the outbound stream.
    Send(Message),
}

/// What a handler tells the behaviour.
#[derive(Debug)]
pub enum HandlerOut {
    /// A message arrived on an inbound stream.
    Received(Message),
    /// An inbound stream carried something we could not decode; the stream
    /// was dropped.
    BadMessage(String),
    /// A queued message was written; `block_bytes` of block data left us.
    Sent {
        /// Block bytes the message carried.
        block_bytes: usize,
        /// Blocks the message carried.
        blocks: usize,
    },
    /// Queued messages were dropped because the peer does not speak Bitswap
    /// or the stream failed; `block_bytes` of them were block data.
    Dropped {
        /// Block bytes the dropped messages carried.
        block_bytes: usize,
    },
}

enum Outbound {
    /// No stream yet (or the last one failed).
    None,
    /// Waiting for the swarm to open and negotiate one.
    Opening,
    /// Ready to write.
    Idle(Stream, Version),
    /// Writing a frame; the future gives the stream back.
    Sending(
        BoxFuture<'static, std::io::Result<Stream>>,
        Version,
        usize,
        usize,
    ),
    /// The peer supports none of our versions: stop trying.
    Unsupported,
}

/// The [`ConnectionHandler`] of [`crate::Behaviour`].
pub struct Handler {
    versions: Vec<Version>,
    budget: FrameBudget,
    inbound: SelectAll<BoxStream<'static, Result<Message, String>>>,
    outbound: Outbound,
    queue: VecDeque<Message>,
    events: VecDeque<HandlerOut>,
}

impl Handler {
    pub(crate) fn new(versions: Vec<Version>, budget: FrameBudget) -> Self {
        Handler {
            versions,
            budget,
            inbound: SelectAll::new(),
            outbound: Outbound::None,
            queue: VecDeque::new(),
            events: VecDeque::new(),
        }
    }

    fn drop_queue(&mut self) {
        if self.queue.is_empty() {
            return;
        }
        let block_bytes = self.queue.drain(..).map(|m| m.block_bytes()).sum();
        self.events.push_back(HandlerOut::Dropped { block_bytes });
    }
}

/// Turns an inbound stream into a stream of decoded messages that ends at
/// the first error. Large frames hold their share of `budget` until decoded.
fn read_messages(
    stream: Stream,
    budget: FrameBudget,
) -> BoxStream<'static, Result<Message, String>> {
    futures::stream::unfold(Some(stream), move |state| {
        let budget = budget.clone();
        async move {
            let mut s = state?;
            match read_frame_within(&mut s, &budget).await {
                Ok(Some((buf, _reserved))) => match Message::decode(&buf) {
                    Ok(m) => Some((Ok(m), Some(s))),
                    Err(e) => Some((Err(e.to_string()), None)),
                },
                Ok(None) => None,
                Err(e) => Some((Err(format!("reading bitswap stream: {e}")), None)),
            }
        }
    })
    .boxed()
}

impl ConnectionHandler for Handler {
    type FromBehaviour = HandlerIn;
    type ToBehaviour = HandlerOut;
    type InboundProtocol = BitswapUpgrade;
    type OutboundProtocol = BitswapUpgrade;
    type InboundOpenInfo = ();
    type OutboundOpenInfo = ();

    fn listen_protocol(&self) -> SubstreamProtocol<BitswapUpgrade, ()> {
        SubstreamProtocol::new(BitswapUpgrade::new(&self.versions), ())
    }

    fn connection_keep_alive(&self) -> bool {
        !self.queue.is_empty()
            || matches!(self.outbound, Outbound::Opening | Outbound::Sending(..))
            || !self.inbound.is_empty()
    }

    fn on_behaviour_event(&mut self, event: HandlerIn) {
        match event {
            HandlerIn::Send(m) => {
                if matches!(self.outbound, Outbound::Unsupported) {
                    self.events.push_back(HandlerOut::Dropped {
                        block_bytes: m.block_bytes(),
                    });
                } else {
                    self.queue.push_back(m);
                }
            }
        }
    }

    fn on_connection_event(
        &mut self,
        event: ConnectionEvent<'_, BitswapUpgrade, BitswapUpgrade, (), ()>,
    ) {
        match event {
            ConnectionEvent::FullyNegotiatedInbound(FullyNegotiatedInbound {
                protocol: (stream, _),
                ..
            }) => {
                if self.inbound.len() >= MAX_INBOUND_STREAMS {
                    tracing::debug!("too many inbound bitswap streams; dropping one");
                    return;
                }
                self.inbound
                    .push(read_messages(stream, self.budget.clone()));
            }
            ConnectionEvent::FullyNegotiatedOutbound(FullyNegotiatedOutbound {
                protocol: (stream, proto),
                ..
            }) => {
                let version = Version::from_protocol(proto.as_ref()).unwrap_or(Version::V1_0_0);
                self.outbound = Outbound::Idle(stream, version);
            }
            ConnectionEvent::DialUpgradeError(DialUpgradeError { error, .. }) => {
                use libp2p::swarm::StreamUpgradeError;
                self.outbound = match error {
                    StreamUpgradeError::NegotiationFailed => Outbound::Unsupported,
                    _ => Outbound::None,
                };
                tracing::debug!("opening bitswap stream failed: {error:?}");
                self.drop_queue();
            }
            _ => {}
        }
    }

    fn poll(
        &mut self,
        cx: &mut Context<'_>,
    ) -> Poll<ConnectionHandlerEvent<BitswapUpgrade, (), HandlerOut>> {
        loop {
            if let Some(ev) = self.events.pop_front() {
                return Poll::Ready(ConnectionHandlerEvent::NotifyBehaviour(ev));
            }
            match std::mem::replace(&mut self.outbound, Outbound::None) {
                Outbound::None if !self.queue.is_empty() => {
                    self.outbound = Outbound::Opening;
                    return Poll::Ready(ConnectionHandlerEvent::OutboundSubstreamRequest {
                        protocol: SubstreamProtocol::new(BitswapUpgrade::new(&self.versions), ()),
                    });
                }
                Outbound::Idle(mut stream, version) => match self.queue.pop_front() {
                    Some(m) => {
                        let (block_bytes, blocks) = (m.block_bytes(), m.blocks.len());
                        let body = m.encode(version);
                        drop(m);
                        let fut = async move {
                            write_frame(&mut stream, &body).await?;
                            Ok(stream)
                        }
                        .boxed();
                        self.outbound = Outbound::Sending(fut, version, block_bytes, blocks);
                        continue;
                    }
                    None => self.outbound = Outbound::Idle(stream, version),
                },
                Outbound::Sending(mut fut, version, block_bytes, blocks) => {
                    match fut.poll_unpin(cx) {
                        Poll::Ready(Ok(stream)) => {
                            self.outbound = Outbound::Idle(stream, version);
                            return Poll::Ready(ConnectionHandlerEvent::NotifyBehaviour(
                                HandlerOut::Sent {
                                    block_bytes,
                                    blocks,
                                },
                            ));
                        }
                        Poll::Ready(Err(e)) => {
                            tracing::debug!("writing bitswap message failed: {e}");
                            // Report the lost message; the next one reopens a stream.
                            return Poll::Ready(ConnectionHandlerEvent::NotifyBehaviour(
                                HandlerOut::Dropped { block_bytes },
                            ));
                        }
                        Poll::Pending => {
                            self.outbound = Outbound::Sending(fut, version, block_bytes, blocks)
                        }
                    }
                }
                other => self.outbound = other,
            }
            return match self.inbound.poll_next_unpin(cx) {
                Poll::Ready(Some(Ok(m))) => Poll::Ready(ConnectionHandlerEvent::NotifyBehaviour(
                    HandlerOut::Received(m),
                )),
                Poll::Ready(Some(Err(e))) => Poll::Ready(ConnectionHandlerEvent::NotifyBehaviour(
                    HandlerOut::BadMessage(e),
                )),
                Poll::Ready(None) | Poll::Pending => Poll::Pending,
            };
        }
    }
}
