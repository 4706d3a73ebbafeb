//! Bandwidth totals for `stats bw`: every stream of every connection (TCP
//! and QUIC) counts the bytes read from and written to it.
//!
//! As go-libp2p's bandwidth counter, this counts stream payload: protocol
//! messages (Bitswap, DHT, identify, ping), not the TCP/IP, Noise or Yamux
//! framing around them.

use std::io::{self, IoSlice, IoSliceMut};
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::task::{ready, Context, Poll};

use futures::{AsyncRead, AsyncWrite};
use libp2p::core::muxing::StreamMuxerExt as _;
use libp2p::core::muxing::{StreamMuxer, StreamMuxerBox, StreamMuxerEvent, SubstreamBox};

/// Totals of bytes received and sent on all connections since the host
/// was built. Cheap to clone; every clone reads the same totals, without
/// involving the task that drives the host.
#[derive(Debug, Clone, Default)]
pub struct BandwidthCounters {
    inner: Arc<Totals>,
}

#[derive(Debug, Default)]
struct Totals {
    read: AtomicU64,
    written: AtomicU64,
}

impl BandwidthCounters {
    /// Bytes received.
    pub fn total_in(&self) -> u64 {
        self.inner.read.load(Ordering::Relaxed)
    }

    /// Bytes sent.
    pub fn total_out(&self) -> u64 {
        self.inner.written.load(Ordering::Relaxed)
    }

    /// `(total_in, total_out)`.
    pub fn totals(&self) -> (u64, u64) {
        (self.total_in(), self.total_out())
    }

    fn add_in(&self, n: usize) {
        self.inner.read.fetch_add(n as u64, Ordering::Relaxed);
    }

    fn add_out(&self, n: usize) {
        self.inner.written.fetch_add(n as u64, Ordering::Relaxed);
    }
}

/// A muxer whose streams count their traffic into [`BandwidthCounters`].
pub(crate) struct CountingMuxer {
    inner: StreamMuxerBox,
    counters: BandwidthCounters,
}

impl CountingMuxer {
    /// Wraps `inner`.
    pub(crate) fn new(inner: StreamMuxerBox, counters: BandwidthCounters) -> Self {
        Self { inner, counters }
    }

    fn wrap(&self, inner: SubstreamBox) -> CountingStream {
        CountingStream {
            inner,
            counters: self.counters.clone(),
        }
    }
}

impl StreamMuxer for CountingMuxer {
    type Substream = CountingStream;
    type Error = io::Error;

    fn poll_inbound(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Result<CountingStream, io::Error>> {
        let this = self.get_mut();
        let s = ready!(this.inner.poll_inbound_unpin(cx))?;
        Poll::Ready(Ok(this.wrap(s)))
    }

    fn poll_outbound(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Result<CountingStream, io::Error>> {
        let this = self.get_mut();
        let s = ready!(this.inner.poll_outbound_unpin(cx))?;
        Poll::Ready(Ok(this.wrap(s)))
    }

    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), io::Error>> {
        self.get_mut().inner.poll_close_unpin(cx)
    }

    fn poll(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Result<StreamMuxerEvent, io::Error>> {
        self.get_mut().inner.poll_unpin(cx)
    }
}

/// A stream that counts the bytes read from and written to it.
pub(crate) struct CountingStream {
    inner: SubstreamBox,
    counters: BandwidthCounters,
}

impl AsyncRead for CountingStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let n = ready!(Pin::new(&mut this.inner).poll_read(cx, buf))?;
        this.counters.add_in(n);
        Poll::Ready(Ok(n))
    }

    fn poll_read_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &mut [IoSliceMut<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let n = ready!(Pin::new(&mut this.inner).poll_read_vectored(cx, bufs))?;
        this.counters.add_in(n);
        Poll::Ready(Ok(n))
    }
}

impl AsyncWrite for CountingStream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let n = ready!(Pin::new(&mut this.inner).poll_write(cx, buf))?;
        this.counters.add_out(n);
        Poll::Ready(Ok(n))
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let n = ready!(Pin::new(&mut this.inner).poll_write_vectored(cx, bufs))?;
        this.counters.add_out(n);
        Poll::Ready(Ok(n))
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_close(cx)
    }
}
