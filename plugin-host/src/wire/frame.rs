//! Frames on the socket: a fixed header and a body, read and written with plain system calls.
//!
//! Header (16 bytes, little endian): body length (`u32`), kind (`u8`), three zero bytes,
//! request id (`u64`; the protocol version in a handshake frame).

use std::{
    io,
    os::fd::{AsRawFd, BorrowedFd},
    time::Instant,
};

/// The handshake; its id is the sender's protocol version.
pub(crate) const HELLO: u8 = 0;
/// A request that expects a reply with the same id.
pub(crate) const REQUEST: u8 = 1;
/// The reply to a request.
pub(crate) const REPLY: u8 = 2;
/// A message that expects no reply.
pub(crate) const NOTICE: u8 = 3;

pub(crate) const HEADER: usize = 16;

/// A frame larger than this is refused: a worker that sends one is broken or hostile.
pub(crate) const MAX_BODY: usize = 256 * 1024 * 1024;

/// One received frame.
#[derive(Debug)]
pub(crate) struct Frame {
    pub kind: u8,
    pub id: u64,
    pub body: Vec<u8>,
}

/// Appends a frame with a postcard-encoded body to `out`.
pub(crate) fn encode<T: serde::Serialize>(
    out: &mut Vec<u8>,
    kind: u8,
    id: u64,
    body: &T,
) -> Result<(), postcard::Error> {
    let start = out.len();
    out.extend_from_slice(&[0; HEADER]);
    let mut out_taken = std::mem::take(out);
    out_taken = postcard::to_extend(body, out_taken)?;
    *out = out_taken;
    let len = (out.len() - start - HEADER) as u32;
    out[start..start + 4].copy_from_slice(&len.to_le_bytes());
    out[start + 4] = kind;
    out[start + 8..start + 16].copy_from_slice(&id.to_le_bytes());
    Ok(())
}

/// Writes all of `bytes`, without raising `SIGPIPE` when the peer is gone.
pub(crate) fn send_all(fd: BorrowedFd<'_>, mut bytes: &[u8]) -> io::Result<()> {
    while !bytes.is_empty() {
        // SAFETY: `bytes` is valid for its length; the descriptor is open for the borrow.
        let n = unsafe {
            libc::send(
                fd.as_raw_fd(),
                bytes.as_ptr().cast(),
                bytes.len(),
                libc::MSG_NOSIGNAL,
            )
        };
        if n < 0 {
            let e = io::Error::last_os_error();
            if e.kind() == io::ErrorKind::Interrupted {
                continue;
            }
            return Err(e);
        }
        bytes = &bytes[n as usize..];
    }
    Ok(())
}

/// Bytes read from the socket and not yet consumed. Only the thread holding the
/// connection's read token uses it, so frames split across reads survive a change of reader.
pub(crate) struct ReadBuf {
    buf: Vec<u8>,
    start: usize,
    end: usize,
}

/// Why no frame could be read.
#[derive(Debug)]
pub(crate) enum ReadError {
    /// The deadline passed first.
    TimedOut,
    /// The peer closed the connection, or the socket failed.
    Closed(String),
}

impl Default for ReadBuf {
    fn default() -> Self {
        Self {
            buf: vec![0; 64 * 1024],
            start: 0,
            end: 0,
        }
    }
}

impl ReadBuf {
    /// The next frame, reading from `fd` as needed until `deadline` (none: wait forever).
    pub fn next(
        &mut self,
        fd: BorrowedFd<'_>,
        deadline: Option<Instant>,
    ) -> Result<Frame, ReadError> {
        loop {
            if let Some(frame) = self.take()? {
                return Ok(frame);
            }
            self.fill(fd, deadline)?;
        }
    }

    fn take(&mut self) -> Result<Option<Frame>, ReadError> {
        let available = self.end - self.start;
        if available < HEADER {
            return Ok(None);
        }
        let header = &self.buf[self.start..self.start + HEADER];
        let len = u32::from_le_bytes(header[0..4].try_into().expect("4 bytes")) as usize;
        if len > MAX_BODY {
            return Err(ReadError::Closed(format!(
                "a frame of {len} bytes is larger than the limit of {MAX_BODY}"
            )));
        }
        if available < HEADER + len {
            if self.buf.len() - self.start < HEADER + len {
                // Make room: move what is buffered to the front, grow for the whole frame.
                self.buf.copy_within(self.start..self.end, 0);
                self.end -= self.start;
                self.start = 0;
                if self.buf.len() < HEADER + len {
                    self.buf.resize(HEADER + len, 0);
                }
            }
            return Ok(None);
        }
        let kind = header[4];
        let id = u64::from_le_bytes(header[8..16].try_into().expect("8 bytes"));
        let body = self.buf[self.start + HEADER..self.start + HEADER + len].to_vec();
        self.start += HEADER + len;
        if self.start == self.end {
            self.start = 0;
            self.end = 0;
        }
        Ok(Some(Frame { kind, id, body }))
    }

    fn fill(&mut self, fd: BorrowedFd<'_>, deadline: Option<Instant>) -> Result<(), ReadError> {
        if self.end == self.buf.len() {
            self.buf.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
        }
        loop {
            if let Some(deadline) = deadline {
                wait_readable(fd, deadline)?;
            }
            let free = &mut self.buf[self.end..];
            // SAFETY: `free` is valid for writes of its length.
            let n = unsafe { libc::recv(fd.as_raw_fd(), free.as_mut_ptr().cast(), free.len(), 0) };
            match n {
                0 => return Err(ReadError::Closed("the connection was closed".into())),
                n if n > 0 => {
                    self.end += n as usize;
                    return Ok(());
                }
                _ => {
                    let e = io::Error::last_os_error();
                    if e.kind() != io::ErrorKind::Interrupted {
                        return Err(ReadError::Closed(format!("reading the connection: {e}")));
                    }
                }
            }
        }
    }
}

/// Waits until `fd` is readable or `deadline` passes.
fn wait_readable(fd: BorrowedFd<'_>, deadline: Instant) -> Result<(), ReadError> {
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(ReadError::TimedOut);
        }
        let mut poll = libc::pollfd {
            fd: fd.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        // Round up so a wait never ends a little before the deadline and spins.
        let ms = left.as_millis().saturating_add(1).min(i32::MAX as u128) as i32;
        // SAFETY: one valid pollfd.
        let n = unsafe { libc::poll(&mut poll, 1, ms) };
        if n > 0 {
            return Ok(());
        }
        if n < 0 {
            let e = io::Error::last_os_error();
            if e.kind() != io::ErrorKind::Interrupted {
                return Err(ReadError::Closed(format!("waiting on the connection: {e}")));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::os::{fd::AsFd, unix::net::UnixStream};

    use super::*;

    #[test]
    fn frames_survive_splits_and_large_bodies() {
        let (a, b) = UnixStream::pair().unwrap();
        let mut out = Vec::new();
        encode(&mut out, REQUEST, 7, &"hello".to_owned()).unwrap();
        let big = vec![7u8; 200_000];
        encode(&mut out, REPLY, 8, &big).unwrap();
        let writer = std::thread::spawn(move || {
            // Dribble the bytes to force partial reads.
            for chunk in out.chunks(1000) {
                send_all(a.as_fd(), chunk).unwrap();
            }
        });
        let mut buf = ReadBuf::default();
        let first = buf.next(b.as_fd(), None).unwrap();
        assert_eq!((first.kind, first.id), (REQUEST, 7));
        assert_eq!(
            postcard::from_bytes::<String>(&first.body).unwrap(),
            "hello"
        );
        let second = buf.next(b.as_fd(), None).unwrap();
        assert_eq!((second.kind, second.id), (REPLY, 8));
        assert_eq!(postcard::from_bytes::<Vec<u8>>(&second.body).unwrap(), big);
        writer.join().unwrap();
        let deadline = Instant::now() + std::time::Duration::from_millis(20);
        assert!(matches!(
            buf.next(b.as_fd(), Some(deadline)),
            Err(ReadError::Closed(_))
        ));
    }
}
