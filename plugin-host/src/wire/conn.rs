//! One connection, many threads: requests from any number of threads are multiplexed over
//! one socket, each with its own id, and nobody waits behind a lock for somebody else's
//! reply.
//!
//! Reading follows the leader/follower pattern. A thread that has sent a request and finds
//! nobody reading becomes the reader itself (the *leader*): it reads frames until its own
//! reply arrives, hands other threads' replies to them on the way (waking each), and on
//! leaving passes the read token to a waiting thread. A lone caller therefore reads its own
//! reply with no other thread involved: one wake-up each way, as in a bare ping-pong. Only
//! when several calls overlap does a reply travel through another thread.
//!
//! Incoming requests and notices (the peer calling us) go to a [`Handler`]: handled by the
//! reading thread itself where they are quick (the host answering a plugin's service call),
//! or, in a worker, served by the thread that read them (see [`Conn::serve`]). While it
//! serves, somebody else must read only if another request is on its way, and only the peer
//! knows that: it sent one while an earlier one was unanswered. So with a *doorbell* (a
//! second socket pair, see [`Conn::use_doorbell`] and [`Conn::ring_on_overlap`]) the serving
//! thread gives the token up without waking anyone, and the peer rings when its calls
//! overlap; a doorbell thread then wakes a reader. A lone caller costs no wake-up, no timer
//! and no extra system call on either side (each of those costs about as much as the whole
//! round trip on a virtual machine); overlapping calls cost one byte on the doorbell.

use std::{
    collections::HashMap,
    os::fd::{AsFd, OwnedFd},
    sync::{
        atomic::{AtomicU64, Ordering},
        Arc, Mutex, MutexGuard,
    },
    thread::{self, Thread, ThreadId},
    time::{Duration, Instant},
};

use super::frame::{self, Frame, ReadBuf, ReadError, NOTICE, REPLY, REQUEST};

/// Why a request got no reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ConnError {
    /// The deadline passed.
    TimedOut,
    /// The connection is gone (the peer exited or was killed) and the request may have
    /// reached the peer.
    Closed(String),
    /// The connection was gone before the request could be sent: the peer never saw it.
    Unsent(String),
}

/// What the connection does with the peer's requests and notices.
pub(crate) trait Handler: Send + Sync {
    /// A request (`frame.kind == REQUEST`, answer it with [`Conn::reply`]) or a notice.
    fn handle(&self, conn: &Arc<Conn>, frame: Frame);

    /// Called by a serving thread that is about to handle a request when no other thread
    /// is left to read: start one (a worker's pool grows here).
    fn need_reader(&self, _conn: &Arc<Conn>) {}
}

struct Waiter {
    thread: Thread,
    reply: Option<Vec<u8>>,
}

#[derive(Default)]
struct State {
    /// The thread holding the read token.
    reader: Option<ThreadId>,
    /// Requests awaiting their reply.
    waiters: HashMap<u64, Waiter>,
    /// Threads waiting only for the read token, to serve the peer's requests.
    idle: Vec<Thread>,
    /// The peer rang while somebody was reading: the next reader to let go wakes another.
    rang: bool,
    /// Set once the connection is gone, with the reason.
    closed: Option<String>,
}

/// A connection: see the module documentation.
pub(crate) struct Conn {
    socket: OwnedFd,
    /// Whether the peer's requests are handled by the reading thread itself (quick ones),
    /// or handed to a serving thread while another one reads (see [`Conn::serve`]).
    inline_requests: bool,
    handler: Arc<dyn Handler>,
    write: Mutex<Vec<u8>>,
    read: Mutex<ReadBuf>,
    state: Mutex<State>,
    next_id: AtomicU64,
    /// Nanoseconds since `epoch` of the last request sent.
    last_request: AtomicU64,
    epoch: Instant,
    /// Where this side rings when its requests overlap (the host's end of the doorbell).
    ring: std::sync::OnceLock<OwnedFd>,
    /// Whether this side waits for rings (a worker): serving threads then give up the token
    /// without waking anyone.
    answers_rings: std::sync::atomic::AtomicBool,
}

fn unpoison<T>(e: std::sync::PoisonError<T>) -> T {
    e.into_inner()
}

/// What the reading thread came back with.
enum Lead {
    /// The reply it waited for.
    Mine(Vec<u8>),
    /// A request to serve (only with `inline_requests == false`).
    Incoming(Frame),
    /// It delivered a reply to another thread (only when reading while idle).
    Delivered,
}

impl Conn {
    pub fn new(socket: OwnedFd, handler: Arc<dyn Handler>, inline_requests: bool) -> Arc<Self> {
        Arc::new(Self {
            socket,
            inline_requests,
            handler,
            write: Mutex::default(),
            read: Mutex::default(),
            state: Mutex::default(),
            next_id: AtomicU64::new(1),
            last_request: AtomicU64::new(0),
            epoch: Instant::now(),
            ring: std::sync::OnceLock::new(),
            answers_rings: std::sync::atomic::AtomicBool::new(false),
        })
    }

    /// The host's side: ring `doorbell` whenever a request is sent while an earlier one is
    /// unanswered (the peer may be serving the earlier one with nobody reading).
    pub fn ring_on_overlap(&self, doorbell: OwnedFd) {
        let _ = self.ring.set(doorbell);
    }

    /// The worker's side: serving threads give up the read token without waking anyone; a
    /// thread of its own waits on `doorbell` and wakes a reader when the peer rings.
    pub fn use_doorbell(self: &Arc<Self>, doorbell: OwnedFd) -> std::io::Result<()> {
        self.answers_rings.store(true, Ordering::Relaxed);
        let conn = Arc::downgrade(self);
        thread::Builder::new()
            .name("plugin-doorbell".into())
            .spawn(move || {
                use std::os::fd::AsRawFd;
                let mut rings = [0u8; 64];
                loop {
                    // SAFETY: reading into a buffer of its length from our own descriptor.
                    let n = unsafe {
                        libc::recv(
                            doorbell.as_raw_fd(),
                            rings.as_mut_ptr().cast(),
                            rings.len(),
                            0,
                        )
                    };
                    let Some(conn) = conn.upgrade() else { return };
                    if n > 0 {
                        conn.rung();
                    } else if n == 0 || conn.closed().is_some() {
                        return;
                    }
                }
            })?;
        Ok(())
    }

    /// The peer rang: wake a reader if nobody reads, else remember it for when the reader
    /// lets go.
    fn rung(self: &Arc<Self>) {
        let mut state = self.state();
        if state.closed.is_some() {
            return;
        }
        if state.reader.is_some() {
            state.rang = true;
            return;
        }
        self.wake_reader(state);
    }

    /// Wakes a thread to read: one waiting for its reply, else an idle one, else a new one.
    fn wake_reader(self: &Arc<Self>, mut state: MutexGuard<'_, State>) {
        state.rang = false;
        let me = thread::current().id();
        let waiting = state
            .waiters
            .values()
            .find(|w| w.reply.is_none() && w.thread.id() != me)
            .map(|w| w.thread.clone())
            .or_else(|| state.idle.pop());
        drop(state);
        match waiting {
            Some(thread) => thread.unpark(),
            None => self.handler.need_reader(self),
        }
    }

    fn ring(&self) {
        if let Some(doorbell) = self.ring.get() {
            use std::os::fd::AsRawFd;
            // A full doorbell already has a ring waiting: never block on it.
            // SAFETY: sending one byte from a valid buffer on our own descriptor.
            unsafe {
                libc::send(
                    doorbell.as_raw_fd(),
                    b"!".as_ptr().cast(),
                    1,
                    libc::MSG_DONTWAIT | libc::MSG_NOSIGNAL,
                )
            };
        }
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(unpoison)
    }

    /// The reason the connection is gone, if it is.
    pub fn closed(&self) -> Option<String> {
        self.state().closed.clone()
    }

    /// Sends one frame.
    fn send<T: serde::Serialize>(&self, kind: u8, id: u64, body: &T) -> Result<(), ConnError> {
        let mut out = self.write.lock().unwrap_or_else(unpoison);
        out.clear();
        frame::encode(&mut out, kind, id, body)
            .map_err(|e| ConnError::Closed(format!("cannot encode a message: {e}")))?;
        frame::send_all(self.socket.as_fd(), &out).map_err(|e| {
            let reason = format!("writing to the connection: {e}");
            self.close(&reason);
            ConnError::Closed(reason)
        })
    }

    /// Sends a notice (no reply).
    pub fn notify<T: serde::Serialize>(&self, body: &T) -> Result<(), ConnError> {
        if let Some(reason) = self.closed() {
            return Err(ConnError::Closed(reason));
        }
        self.send(NOTICE, 0, body)
    }

    /// Answers request `id`.
    pub fn reply<T: serde::Serialize>(&self, id: u64, body: &T) -> Result<(), ConnError> {
        self.send(REPLY, id, body)
    }

    /// Sends a request and waits for its reply until `deadline`, reading it itself when no
    /// other thread is reading. Returns the reply's body.
    pub fn call<T: serde::Serialize>(
        self: &Arc<Self>,
        body: &T,
        deadline: Option<Instant>,
    ) -> Result<Vec<u8>, ConnError> {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let me = thread::current();
        let overlapping = {
            let mut state = self.state();
            if let Some(reason) = &state.closed {
                return Err(ConnError::Unsent(reason.clone()));
            }
            state.waiters.insert(
                id,
                Waiter {
                    thread: me.clone(),
                    reply: None,
                },
            );
            state.waiters.len() > 1
        };
        self.last_request
            .store(self.epoch.elapsed().as_nanos() as u64, Ordering::Relaxed);
        if let Err(e) = self.send(REQUEST, id, body) {
            self.state().waiters.remove(&id);
            return Err(match e {
                ConnError::Closed(reason) => ConnError::Unsent(reason),
                other => other,
            });
        }
        if overlapping {
            self.ring();
        }
        loop {
            let mut state = self.state();
            if let Some(reply) = state.waiters.get_mut(&id).and_then(|w| w.reply.take()) {
                state.waiters.remove(&id);
                return Ok(reply);
            }
            if let Some(reason) = &state.closed {
                let reason = reason.clone();
                state.waiters.remove(&id);
                return Err(ConnError::Closed(reason));
            }
            match state.reader {
                None => {
                    state.reader = Some(me.id());
                    drop(state);
                    let led = self.lead(Some(id), deadline);
                    // Our own entry goes first, so the token passes to a thread that still
                    // waits, never back to us.
                    let result = self.finish_lead(id, led);
                    self.release_token();
                    return result;
                }
                // A nested call from the reading thread (a service handler calling back):
                // it keeps the token and reads on.
                Some(reader) if reader == me.id() => {
                    drop(state);
                    let led = self.lead(Some(id), deadline);
                    return self.finish_lead(id, led);
                }
                Some(_) => {
                    drop(state);
                    match deadline {
                        None => thread::park(),
                        Some(deadline) => {
                            let left = deadline.saturating_duration_since(Instant::now());
                            if left.is_zero() {
                                let mut state = self.state();
                                if let Some(reply) = state.waiters.remove(&id).and_then(|w| w.reply)
                                {
                                    return Ok(reply);
                                }
                                return Err(ConnError::TimedOut);
                            }
                            thread::park_timeout(left);
                        }
                    }
                }
            }
        }
    }

    fn finish_lead(&self, id: u64, led: Result<Lead, ConnError>) -> Result<Vec<u8>, ConnError> {
        match led {
            Ok(Lead::Mine(reply)) => {
                self.state().waiters.remove(&id);
                Ok(reply)
            }
            Ok(Lead::Incoming(_) | Lead::Delivered) => {
                unreachable!("a caller's read loop returns with its reply or an error")
            }
            Err(e) => {
                let mut state = self.state();
                // The reply may have been delivered before the error (by an earlier leader).
                match state.waiters.remove(&id).and_then(|w| w.reply) {
                    Some(reply) => Ok(reply),
                    None => Err(e),
                }
            }
        }
    }

    /// Reads frames as the token holder until `mine` arrives (or, without `mine`, until a
    /// request to serve or a delivered reply when reading while idle).
    fn lead(
        self: &Arc<Self>,
        mine: Option<u64>,
        deadline: Option<Instant>,
    ) -> Result<Lead, ConnError> {
        loop {
            let frame = {
                let mut read = self.read.lock().unwrap_or_else(unpoison);
                read.next(self.socket.as_fd(), deadline)
            };
            let frame = match frame {
                Ok(frame) => frame,
                Err(ReadError::TimedOut) => return Err(ConnError::TimedOut),
                Err(ReadError::Closed(reason)) => {
                    self.close(&reason);
                    return Err(ConnError::Closed(reason));
                }
            };
            match frame.kind {
                REPLY if Some(frame.id) == mine => return Ok(Lead::Mine(frame.body)),
                REPLY => {
                    let mut state = self.state();
                    if let Some(waiter) = state.waiters.get_mut(&frame.id) {
                        waiter.reply = Some(frame.body);
                        waiter.thread.unpark();
                    }
                    drop(state);
                    if mine.is_none() && self.inline_requests {
                        return Ok(Lead::Delivered);
                    }
                }
                REQUEST | NOTICE if self.inline_requests => self.handler.handle(self, frame),
                REQUEST | NOTICE => match mine {
                    None => return Ok(Lead::Incoming(frame)),
                    // A caller in a serving process got a request: serve it here, it cannot
                    // wait (its sender may be what our own reply depends on).
                    Some(_) => self.handler.handle(self, frame),
                },
                other => {
                    let reason = format!("the peer sent a frame of unknown kind {other}");
                    self.close(&reason);
                    return Err(ConnError::Closed(reason));
                }
            }
        }
    }

    /// Gives up the read token and wakes a thread to take it: one still waiting for its
    /// reply first, else an idle serving thread; never the calling thread itself.
    fn release_token(&self) {
        let me = thread::current().id();
        let mut state = self.state();
        state.reader = None;
        let waiting = state
            .waiters
            .values()
            .find(|w| w.reply.is_none() && w.thread.id() != me)
            .map(|w| w.thread.clone());
        match waiting {
            Some(thread) => thread.unpark(),
            None => {
                if let Some(idle) = state.idle.pop() {
                    idle.unpark();
                }
            }
        }
    }

    /// A serving thread is about to send its answer: it takes the read token back if nobody
    /// holds it, so it goes straight back to reading after `send` (the peer's next request
    /// may follow at once).
    pub fn reclaim(&self) {
        let me = thread::current().id();
        let mut state = self.state();
        if state.reader.is_none() && state.closed.is_none() {
            state.reader = Some(me);
        }
    }

    /// Gives up the read token without waking anyone, unless a thread waits for a reply or
    /// the peer rang (they need a reader now); else the doorbell wakes one when needed.
    fn release_token_quietly(self: &Arc<Self>) {
        let me = thread::current().id();
        let mut state = self.state();
        state.reader = None;
        let needed = state.rang
            || state
                .waiters
                .values()
                .any(|w| w.reply.is_none() && w.thread.id() != me);
        if needed {
            self.wake_reader(state);
        }
    }

    /// Serves the peer's requests on this thread until the connection closes: a worker's
    /// threads all run this. The reading thread hands each request to itself after passing
    /// the token on, so another thread reads while this one serves.
    pub fn serve(self: &Arc<Self>) -> String {
        let me = thread::current();
        loop {
            let mut state = self.state();
            if let Some(reason) = &state.closed {
                return reason.clone();
            }
            match state.reader {
                // Taken back while answering (see `reclaim`).
                Some(reader) if reader == me.id() => drop(state),
                Some(_) => {
                    state.idle.push(me.clone());
                    drop(state);
                    thread::park();
                    let mut state = self.state();
                    state.idle.retain(|t| t.id() != me.id());
                    continue;
                }
                None => {
                    state.reader = Some(me.id());
                    drop(state);
                }
            }
            match self.lead(None, None) {
                Ok(Lead::Incoming(frame)) => {
                    if self.state().idle.is_empty() {
                        self.handler.need_reader(self);
                    }
                    if self.answers_rings.load(Ordering::Relaxed) {
                        self.release_token_quietly();
                    } else {
                        self.release_token();
                    }
                    self.handler.handle(self, frame);
                }
                Ok(Lead::Mine(_) | Lead::Delivered) => self.release_token(),
                Err(_) => self.release_token(),
            }
        }
    }

    /// Reads while no caller does, for the peer's requests that arrive between calls (a
    /// plugin's own threads logging or sending messages) and to notice a closed connection.
    /// Takes the token only once no request was sent for `quiet`; returns after delivering a
    /// reply (a caller is active again, and reads itself from now on) or when the connection
    /// closes (`Err`).
    pub fn read_while_idle(self: &Arc<Self>, quiet: Duration) -> Result<(), String> {
        let me = thread::current();
        loop {
            let since = Duration::from_nanos(
                (self.epoch.elapsed().as_nanos() as u64)
                    .saturating_sub(self.last_request.load(Ordering::Relaxed)),
            );
            if since < quiet {
                thread::park_timeout(quiet - since);
                if let Some(reason) = self.closed() {
                    return Err(reason);
                }
                continue;
            }
            {
                let mut state = self.state();
                if let Some(reason) = &state.closed {
                    return Err(reason.clone());
                }
                if state.reader.is_some() || !state.waiters.is_empty() {
                    drop(state);
                    thread::park_timeout(quiet);
                    continue;
                }
                state.reader = Some(me.id());
            }
            let led = self.lead(None, None);
            self.release_token();
            match led {
                Ok(_) => return Ok(()),
                Err(ConnError::Closed(reason) | ConnError::Unsent(reason)) => return Err(reason),
                Err(ConnError::TimedOut) => return Ok(()),
            }
        }
    }

    /// Marks the connection gone and wakes every waiting thread; shuts the socket down so a
    /// thread blocked reading it returns.
    pub fn close(&self, reason: &str) {
        let mut state = self.state();
        if state.closed.is_none() {
            state.closed = Some(reason.to_owned());
        }
        for waiter in state.waiters.values() {
            waiter.thread.unpark();
        }
        for idle in state.idle.drain(..) {
            idle.unpark();
        }
        drop(state);
        use std::os::fd::AsRawFd;
        // SAFETY: shutting down a socket this connection owns.
        unsafe { libc::shutdown(self.socket.as_raw_fd(), libc::SHUT_RDWR) };
    }
}

#[cfg(test)]
mod tests {
    use std::{os::unix::net::UnixStream, sync::mpsc};

    use super::*;

    /// Answers every request with its own body doubled, on a serving thread pool; request
    /// 999 is held until the test releases it.
    struct Echo {
        release: Mutex<mpsc::Receiver<()>>,
    }

    impl Handler for Echo {
        fn handle(&self, conn: &Arc<Conn>, frame: Frame) {
            if frame.kind == REQUEST {
                let n: u64 = postcard::from_bytes(&frame.body).unwrap();
                if n == 999 {
                    let _ = self.release.lock().unwrap().recv();
                }
                conn.reclaim();
                conn.reply(frame.id, &(n * 2)).unwrap();
            }
        }
        fn need_reader(&self, conn: &Arc<Conn>) {
            let conn = Arc::clone(conn);
            thread::spawn(move || conn.serve());
        }
    }

    struct Nothing;
    impl Handler for Nothing {
        fn handle(&self, _: &Arc<Conn>, _: Frame) {}
    }

    #[test]
    fn many_threads_share_one_connection_and_a_slow_call_blocks_nobody() {
        share(false);
    }

    #[test]
    fn with_a_doorbell_too() {
        share(true);
    }

    fn share(doorbell: bool) {
        let (a, b) = UnixStream::pair().unwrap();
        let (release, held) = mpsc::channel();
        let server = Conn::new(
            OwnedFd::from(b),
            Arc::new(Echo {
                release: Mutex::new(held),
            }),
            false,
        );
        let serving = Arc::clone(&server);
        thread::spawn(move || serving.serve());
        let client = Conn::new(OwnedFd::from(a), Arc::new(Nothing), true);
        if doorbell {
            let (ring, bell) = UnixStream::pair().unwrap();
            server.use_doorbell(OwnedFd::from(bell)).unwrap();
            client.ring_on_overlap(OwnedFd::from(ring));
        }

        // The slow request is held by the server until released below; 800 calls from four
        // threads must all be answered meanwhile (a deadline turns a serialised connection
        // into a failure instead of a hang).
        let slow = {
            let client = Arc::clone(&client);
            thread::spawn(move || {
                postcard::from_bytes::<u64>(&client.call(&999u64, None).unwrap()).unwrap()
            })
        };
        let deadline = Some(Instant::now() + Duration::from_secs(60));
        thread::scope(|scope| {
            for t in 0..4u64 {
                let client = &client;
                scope.spawn(move || {
                    for i in 0..200u64 {
                        let n = t * 1000 + i;
                        let reply = client
                            .call(&n, deadline)
                            .expect("answered beside the held call");
                        assert_eq!(postcard::from_bytes::<u64>(&reply).unwrap(), n * 2);
                    }
                });
            }
        });
        assert!(!slow.is_finished(), "the held call is still held");
        release.send(()).unwrap();
        assert_eq!(slow.join().unwrap(), 1998);

        let deadline = Some(Instant::now() + Duration::from_millis(50));
        assert_eq!(client.call(&999u64, deadline), Err(ConnError::TimedOut));
        server.close("test over");
        assert!(matches!(
            client.call(&1u64, Some(Instant::now() + Duration::from_secs(5))),
            Err(ConnError::Closed(_) | ConnError::Unsent(_))
        ));
        assert!(
            matches!(client.call(&1u64, None), Err(ConnError::Unsent(_))),
            "once closed, a request is never sent"
        );
    }
}
