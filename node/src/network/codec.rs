//! Length-prefixed byte frames for the request-response protocol.
//!
//! Wire format: a 4-byte big-endian length `n` followed by exactly `n` bytes. Invariants: `n` is checked against
//! the configured maximum before anything is allocated, so a peer can never make us allocate more than
//! `max` bytes; malformed or truncated input is an `io::Error`, never a panic; frames larger than `max` are
//! refused on write too.

use std::io;

use futures::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use libp2p::{StreamProtocol, request_response};

/// Allocation made up front for a frame body; larger bodies grow as their bytes arrive.
const INITIAL_CAPACITY: usize = 64 * 1024;

/// Why a frame was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum FrameError {
    /// The announced or actual length is above the limit.
    #[error("frame of {len} bytes exceeds the limit of {max} bytes")]
    TooLarge { len: u64, max: usize },
}

fn too_large(len: u64, max: usize) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, FrameError::TooLarge { len, max })
}

/// Reads one frame of at most `max` bytes.
pub async fn read_frame<T: AsyncRead + Unpin>(io: &mut T, max: usize) -> io::Result<Vec<u8>> {
    let mut len = [0u8; 4];
    io.read_exact(&mut len).await?;
    let len = u32::from_be_bytes(len);
    let n = usize::try_from(len).map_err(|_| too_large(u64::from(len), max))?;
    if n > max {
        return Err(too_large(u64::from(len), max));
    }
    // Grow with the bytes actually received rather than trusting the announced length for the allocation.
    let mut buf = Vec::with_capacity(n.min(INITIAL_CAPACITY));
    (&mut *io).take(u64::from(len)).read_to_end(&mut buf).await?;
    if buf.len() != n {
        return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "truncated frame"));
    }
    Ok(buf)
}

/// Writes one frame; refuses data above `max` bytes (or above `u32::MAX`).
pub async fn write_frame<T: AsyncWrite + Unpin>(io: &mut T, data: &[u8], max: usize) -> io::Result<()> {
    let len = u32::try_from(data.len()).map_err(|_| too_large(data.len() as u64, max))?;
    if data.len() > max {
        return Err(too_large(u64::from(len), max));
    }
    io.write_all(&len.to_be_bytes()).await?;
    io.write_all(data).await?;
    io.flush().await
}

/// Decodes a complete in-memory buffer as one frame (used by tests and fuzzing; same checks as the stream path).
pub fn decode_frame(buf: &[u8], max: usize) -> io::Result<Vec<u8>> {
    let mut cursor = futures::io::Cursor::new(buf);
    futures::executor::block_on(read_frame(&mut cursor, max))
}

/// Encodes one frame into memory.
pub fn encode_frame(data: &[u8], max: usize) -> io::Result<Vec<u8>> {
    let mut out = futures::io::Cursor::new(Vec::with_capacity(data.len().saturating_add(4)));
    futures::executor::block_on(write_frame(&mut out, data, max))?;
    Ok(out.into_inner())
}

/// An inbound request as read off the wire. An oversized request is reported (rather than failing the stream
/// silently inside libp2p) so that the sender can be attributed and penalised; its body is never read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RequestFrame {
    /// A request within the limit.
    Data(Vec<u8>),
    /// A request announcing `len` bytes, above the limit.
    Oversized { len: u64 },
}

/// Reads a request frame: like [`read_frame`], but an oversized announcement becomes [`RequestFrame::Oversized`].
pub async fn read_request_frame<T: AsyncRead + Unpin>(io: &mut T, max: usize) -> io::Result<RequestFrame> {
    match read_frame(io, max).await {
        Ok(data) => Ok(RequestFrame::Data(data)),
        Err(e) => match e.get_ref().and_then(|inner| inner.downcast_ref::<FrameError>()) {
            Some(FrameError::TooLarge { len, .. }) => Ok(RequestFrame::Oversized { len: *len }),
            None => Err(e),
        },
    }
}

/// The request-response codec: requests and responses are opaque byte frames bounded by `max`.
#[derive(Debug, Clone)]
pub struct FrameCodec {
    max: usize,
}

impl FrameCodec {
    /// A codec accepting frames of at most `max` bytes in both directions.
    pub fn new(max: usize) -> FrameCodec {
        FrameCodec { max }
    }
}

impl request_response::Codec for FrameCodec {
    type Protocol = StreamProtocol;
    type Request = RequestFrame;
    type Response = Vec<u8>;

    async fn read_request<T>(&mut self, _: &StreamProtocol, io: &mut T) -> io::Result<RequestFrame>
    where
        T: AsyncRead + Unpin + Send,
    {
        read_request_frame(io, self.max).await
    }

    async fn read_response<T>(&mut self, _: &StreamProtocol, io: &mut T) -> io::Result<Vec<u8>>
    where
        T: AsyncRead + Unpin + Send,
    {
        read_frame(io, self.max).await
    }

    async fn write_request<T>(&mut self, _: &StreamProtocol, io: &mut T, req: RequestFrame) -> io::Result<()>
    where
        T: AsyncWrite + Unpin + Send,
    {
        match req {
            RequestFrame::Data(data) => write_frame(io, &data, self.max).await,
            RequestFrame::Oversized { len } => Err(too_large(len, self.max)),
        }
    }

    async fn write_response<T>(&mut self, _: &StreamProtocol, io: &mut T, res: Vec<u8>) -> io::Result<()>
    where
        T: AsyncWrite + Unpin + Send,
    {
        write_frame(io, &res, self.max).await
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    #[test]
    fn round_trip_and_limits() {
        let f = encode_frame(b"hello", 16).unwrap();
        assert_eq!(f, [0, 0, 0, 5, b'h', b'e', b'l', b'l', b'o']);
        assert_eq!(decode_frame(&f, 16).unwrap(), b"hello");
        assert_eq!(decode_frame(&f, 5).unwrap(), b"hello");
        assert!(decode_frame(&f, 4).is_err());
        assert!(encode_frame(&[0u8; 17], 16).is_err());
        assert!(decode_frame(&[0, 0, 0, 5, 1, 2], 16).is_err(), "truncated");
        assert!(decode_frame(&[0, 0], 16).is_err(), "short header");
        assert!(
            decode_frame(&[0xff, 0xff, 0xff, 0xff], usize::MAX).is_err(),
            "huge and truncated"
        );
    }

    #[test]
    fn oversized_requests_are_reported_not_read() {
        let read = |bytes: &[u8], max| {
            futures::executor::block_on(read_request_frame(&mut futures::io::Cursor::new(bytes), max))
        };
        assert_eq!(read(&[0, 0, 0, 2, 7, 7], 2).unwrap(), RequestFrame::Data(vec![7, 7]));
        assert_eq!(read(&[0, 0, 0, 3], 2).unwrap(), RequestFrame::Oversized { len: 3 });
        assert!(read(&[0, 0, 0, 2, 7], 2).is_err(), "truncated");
    }
}
