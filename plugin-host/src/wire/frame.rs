//! Frames on the socket: a fixed header and a body, read and written with plain system calls.
//!
//! Header (16 bytes, little endian): body length (`u32`), kind (`u8`), three zero bytes,
//! request id (`u64`; the protocol version in a handshake frame).

use std::{
    io,
    os::fd::{AsRawFd, BorrowedFd},
    time::{Duration, Instant},
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

/// Sends descriptor `fd` to the peer (`SCM_RIGHTS`, with one byte of data): how the host
/// hands a worker the second socket of its connection, the doorbell.
pub(crate) fn send_fd(socket: BorrowedFd<'_>, fd: BorrowedFd<'_>) -> io::Result<()> {
    let mut byte = *b"D";
    let mut iov = libc::iovec {
        iov_base: byte.as_mut_ptr().cast(),
        iov_len: 1,
    };
    // SAFETY: CMSG_SPACE is a pure size computation.
    let space = unsafe { libc::CMSG_SPACE(std::mem::size_of::<libc::c_int>() as u32) } as usize;
    let mut control = vec![0u8; space];
    // SAFETY: an all-zero msghdr is valid; the fields are filled in below.
    let mut message: libc::msghdr = unsafe { std::mem::zeroed() };
    message.msg_iov = &mut iov;
    message.msg_iovlen = 1;
    message.msg_control = control.as_mut_ptr().cast();
    message.msg_controllen = space as _;
    // SAFETY: `control` has room for one header carrying one descriptor, as computed above.
    unsafe {
        let header = libc::CMSG_FIRSTHDR(&message);
        (*header).cmsg_level = libc::SOL_SOCKET;
        (*header).cmsg_type = libc::SCM_RIGHTS;
        (*header).cmsg_len = libc::CMSG_LEN(std::mem::size_of::<libc::c_int>() as u32) as _;
        std::ptr::write_unaligned(
            libc::CMSG_DATA(header).cast::<libc::c_int>(),
            fd.as_raw_fd(),
        );
    }
    // SAFETY: `message` points at live buffers for the duration of the call.
    if unsafe { libc::sendmsg(socket.as_raw_fd(), &message, libc::MSG_NOSIGNAL) } == 1 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// Receives a descriptor sent with [`send_fd`] (marked close-on-exec).
pub(crate) fn recv_fd(socket: BorrowedFd<'_>) -> io::Result<std::os::fd::OwnedFd> {
    use std::os::fd::FromRawFd;
    let mut byte = [0u8; 1];
    let mut iov = libc::iovec {
        iov_base: byte.as_mut_ptr().cast(),
        iov_len: 1,
    };
    // SAFETY: CMSG_SPACE is a pure size computation.
    let space = unsafe { libc::CMSG_SPACE(std::mem::size_of::<libc::c_int>() as u32) } as usize;
    let mut control = vec![0u8; space];
    // SAFETY: an all-zero msghdr is valid; the fields are filled in below.
    let mut message: libc::msghdr = unsafe { std::mem::zeroed() };
    message.msg_iov = &mut iov;
    message.msg_iovlen = 1;
    message.msg_control = control.as_mut_ptr().cast();
    message.msg_controllen = space as _;
    // SAFETY: `message` points at live buffers for the duration of the call.
    let n = unsafe { libc::recvmsg(socket.as_raw_fd(), &mut message, libc::MSG_CMSG_CLOEXEC) };
    if n != 1 {
        return Err(if n < 0 {
            io::Error::last_os_error()
        } else {
            io::Error::new(io::ErrorKind::UnexpectedEof, "no descriptor came")
        });
    }
    // SAFETY: reading the control message the kernel filled in, if any.
    unsafe {
        let header = libc::CMSG_FIRSTHDR(&message);
        if header.is_null()
            || (*header).cmsg_level != libc::SOL_SOCKET
            || (*header).cmsg_type != libc::SCM_RIGHTS
        {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "the message carried no descriptor",
            ));
        }
        let fd = std::ptr::read_unaligned(libc::CMSG_DATA(header).cast::<libc::c_int>());
        Ok(std::os::fd::OwnedFd::from_raw_fd(fd))
    }
}

/// Bytes read from the socket and not yet consumed. Only the thread holding the
/// connection's read token uses it, so frames split across reads survive a change of reader.
pub(crate) struct ReadBuf {
    buf: Vec<u8>,
    start: usize,
    end: usize,
    /// The socket's receive timeout as last set (`None`: never set, reads block forever).
    timeout: Option<Duration>,
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
            timeout: None,
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
                self.limit_wait(fd, deadline)?;
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
                    match e.kind() {
                        // The receive timeout passed: the deadline is checked on the next turn.
                        io::ErrorKind::WouldBlock | io::ErrorKind::Interrupted => {}
                        _ => return Err(ReadError::Closed(format!("reading the connection: {e}"))),
                    }
                }
            }
        }
    }

    /// Makes the next `recv` give up no later than `deadline` (a little after, at most
    /// [`SLACK`]). The socket's timeout is changed only when it is longer than that: callers
    /// with the same call timeout leave it alone, so a call costs no extra system call (a
    /// `poll` before each read would cost one).
    fn limit_wait(&mut self, fd: BorrowedFd<'_>, deadline: Instant) -> Result<(), ReadError> {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(ReadError::TimedOut);
        }
        if self.timeout.is_some_and(|t| t <= left + SLACK) {
            return Ok(());
        }
        // Round up: a zero timeout would mean "wait forever".
        let wait = left.max(Duration::from_millis(1));
        let value = libc::timeval {
            tv_sec: wait.as_secs() as libc::time_t,
            tv_usec: wait.subsec_micros() as libc::suseconds_t,
        };
        // SAFETY: a valid timeval for SO_RCVTIMEO on an open socket.
        let set = unsafe {
            libc::setsockopt(
                fd.as_raw_fd(),
                libc::SOL_SOCKET,
                libc::SO_RCVTIMEO,
                (&value as *const libc::timeval).cast(),
                std::mem::size_of::<libc::timeval>() as libc::socklen_t,
            )
        };
        if set != 0 {
            let e = io::Error::last_os_error();
            return Err(ReadError::Closed(format!(
                "cannot set a receive timeout: {e}"
            )));
        }
        self.timeout = Some(wait);
        Ok(())
    }
}

/// How much later than its deadline a read may give up.
const SLACK: Duration = Duration::from_millis(20);

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
        let deadline = Instant::now() + Duration::from_millis(20);
        assert!(matches!(
            buf.next(b.as_fd(), Some(deadline)),
            Err(ReadError::Closed(_))
        ));
    }
}
