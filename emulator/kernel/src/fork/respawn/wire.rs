//! The respawn protocol's transport: one `SOCK_SEQPACKET` socket carrying typed, length-checked
//! messages, some with descriptors attached (`SCM_RIGHTS`).
//!
//! Every message starts with a tag. A message with descriptors says how many it carries; the
//! receiver rejects truncated control data, count mismatches and foreign tags, and every
//! descriptor it received but did not hand on is closed when its `OwnedFd` drops.

use std::io::{IoSlice, IoSliceMut};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

use nix::sys::socket::{
    AddressFamily, ControlMessage, ControlMessageOwned, MsgFlags, SockFlag, SockType, recvmsg,
    sendmsg, socketpair,
};

/// Linux caps one SCM_RIGHTS message at 253 descriptors (SCM_MAX_FD).
pub const MAX_FDS_PER_MESSAGE: usize = 253;
/// Payload bytes per message: well under the default socket buffer.
pub const MAX_PAYLOAD: usize = 60 * 1024;

/// Why the protocol failed: one sentence, for the log; the guest sees EAGAIN or ENOMEM.
#[derive(Debug, thiserror::Error)]
pub enum WireError {
    #[error("the fork socket failed: {0}")]
    Io(#[from] nix::Error),
    #[error("the other side closed the fork socket")]
    Closed,
    #[error("expected a {expected} message, got tag {got}")]
    UnexpectedTag { expected: &'static str, got: u32 },
    #[error("{0} message is malformed")]
    Malformed(&'static str),
    #[error("a descriptor batch announced {announced} descriptors but carried {carried}")]
    FdCount { announced: usize, carried: usize },
    #[error("the control data of a descriptor batch was truncated")]
    Truncated,
    #[error("protocol version {0} is not {1}")]
    Version(u32, u32),
    #[error("the fork failed: {0}")]
    Failed(String),
}

/// Message tags.
pub mod tag {
    pub const HELLO: u32 = 0x454c_0001;
    pub const STATE: u32 = 0x454c_0002;
    pub const VMAS: u32 = 0x454c_0003;
    pub const MEMORY: u32 = 0x454c_0004;
    pub const FDS: u32 = 0x454c_0005;
    pub const END: u32 = 0x454c_0006;
    pub const READY: u32 = 0x454c_0007;
    pub const ADMIT: u32 = 0x454c_0008;
    pub const ERROR: u32 = 0x454c_0009;
    pub const LAYERS: u32 = 0x454c_000a;
    /// After admission, on the control line (`control.rs`).
    pub const SETPGID: u32 = 0x454c_000b;
    pub const RELEASE: u32 = 0x454c_000c;
    /// Which pages of a written private anonymous VMA are resident (`image::ResidentRecord`).
    pub const RESIDENT: u32 = 0x454c_000d;
}

/// One end of the fork socket.
#[derive(Debug)]
pub struct Channel {
    sock: OwnedFd,
}

/// A connected pair: (parent end, child end), both close-on-exec.
pub fn pair() -> Result<(Channel, Channel), WireError> {
    let (a, b) =
        socketpair(AddressFamily::Unix, SockType::SeqPacket, None, SockFlag::SOCK_CLOEXEC)?;
    Ok((Channel { sock: a }, Channel { sock: b }))
}

impl Channel {
    /// Adopts an inherited socket (the child's end, passed by number).
    ///
    /// # Safety
    /// `fd` must be an open descriptor that nothing else owns.
    pub unsafe fn from_raw(fd: RawFd) -> Channel {
        // SAFETY: the caller guarantees exclusive ownership of an open descriptor.
        Channel { sock: unsafe { OwnedFd::from_raw_fd(fd) } }
    }

    pub fn raw(&self) -> RawFd {
        self.sock.as_raw_fd()
    }

    /// Sends one message: its tag, payload and descriptors (at most 253).
    pub fn send(&self, tag: u32, payload: &[u8], fds: &[RawFd]) -> Result<(), WireError> {
        assert!(fds.len() <= MAX_FDS_PER_MESSAGE && payload.len() <= MAX_PAYLOAD);
        let head = tag.to_le_bytes();
        let iov = [IoSlice::new(&head), IoSlice::new(payload)];
        let rights = [ControlMessage::ScmRights(fds)];
        let cmsgs: &[ControlMessage<'_>] = if fds.is_empty() { &[] } else { &rights };
        loop {
            match sendmsg::<()>(self.sock.as_raw_fd(), &iov, cmsgs, MsgFlags::MSG_NOSIGNAL, None) {
                Ok(_) => return Ok(()),
                // A full socket buffer is back-pressure, not failure.
                Err(nix::Error::EINTR | nix::Error::ENOBUFS) => std::thread::yield_now(),
                Err(nix::Error::EPIPE) => return Err(WireError::Closed),
                Err(e) => return Err(e.into()),
            }
        }
    }

    /// Receives one message: (tag, payload, descriptors).
    pub fn recv(&self) -> Result<(u32, Vec<u8>, Vec<OwnedFd>), WireError> {
        self.recv_with_room(MAX_FDS_PER_MESSAGE)
    }

    /// Receives one message with control-data room for all descriptors a message may carry, or
    /// (any smaller `max_fds`) for one: more is reported by the kernel as truncated control
    /// data, which is an error.
    pub fn recv_with_room(
        &self,
        max_fds: usize,
    ) -> Result<(u32, Vec<u8>, Vec<OwnedFd>), WireError> {
        let mut buf = vec![0u8; 4 + MAX_PAYLOAD];
        // Full room, or room for a single descriptor (how tests provoke truncation).
        let mut space = if max_fds >= MAX_FDS_PER_MESSAGE {
            nix::cmsg_space!([RawFd; MAX_FDS_PER_MESSAGE])
        } else {
            nix::cmsg_space!([RawFd; 1])
        };
        let (len, fds, truncated) = loop {
            let mut iov = [IoSliceMut::new(&mut buf)];
            match recvmsg::<()>(
                self.sock.as_raw_fd(),
                &mut iov,
                Some(&mut space),
                MsgFlags::MSG_CMSG_CLOEXEC,
            ) {
                Ok(msg) => {
                    let mut fds = Vec::new();
                    for cmsg in msg.cmsgs()? {
                        if let ControlMessageOwned::ScmRights(raw) = cmsg {
                            // SAFETY: the kernel just installed these descriptors for us.
                            fds.extend(
                                raw.into_iter().map(|fd| unsafe { OwnedFd::from_raw_fd(fd) }),
                            );
                        }
                    }
                    let truncated =
                        msg.flags.intersects(MsgFlags::MSG_CTRUNC | MsgFlags::MSG_TRUNC);
                    break (msg.bytes, fds, truncated);
                }
                Err(nix::Error::EINTR) => continue,
                Err(e) => return Err(e.into()),
            }
        };
        if truncated {
            return Err(WireError::Truncated);
        }
        if len == 0 {
            return Err(WireError::Closed);
        }
        if len < 4 {
            return Err(WireError::Malformed("a"));
        }
        let tag = u32::from_le_bytes(buf[..4].try_into().expect("4 bytes"));
        buf.truncate(len);
        buf.drain(..4);
        Ok((tag, buf, fds))
    }

    /// Receives a message that must carry `tag`; an ERROR message from the other side becomes
    /// [`WireError::Failed`].
    pub fn expect(
        &self,
        tag: u32,
        name: &'static str,
    ) -> Result<(Vec<u8>, Vec<OwnedFd>), WireError> {
        self.expect_with_room(tag, name, MAX_FDS_PER_MESSAGE)
    }

    pub fn expect_with_room(
        &self,
        tag: u32,
        name: &'static str,
        max_fds: usize,
    ) -> Result<(Vec<u8>, Vec<OwnedFd>), WireError> {
        let (got, payload, fds) = self.recv_with_room(max_fds)?;
        if got == tag::ERROR {
            return Err(WireError::Failed(String::from_utf8_lossy(&payload).into_owned()));
        }
        if got != tag {
            return Err(WireError::UnexpectedTag { expected: name, got });
        }
        Ok((payload, fds))
    }
}

/// A little-endian writer for payloads.
#[derive(Debug, Default)]
pub struct Writer(pub Vec<u8>);

impl Writer {
    pub fn u8(&mut self, v: u8) -> &mut Self {
        self.0.push(v);
        self
    }
    pub fn u32(&mut self, v: u32) -> &mut Self {
        self.0.extend_from_slice(&v.to_le_bytes());
        self
    }
    pub fn u64(&mut self, v: u64) -> &mut Self {
        self.0.extend_from_slice(&v.to_le_bytes());
        self
    }
    pub fn u128(&mut self, v: u128) -> &mut Self {
        self.0.extend_from_slice(&v.to_le_bytes());
        self
    }
    pub fn bytes(&mut self, b: &[u8]) -> &mut Self {
        self.u32(b.len() as u32);
        self.0.extend_from_slice(b);
        self
    }
}

/// A checked little-endian reader: running past the end is a `Malformed` error.
#[derive(Debug)]
pub struct Reader<'a> {
    buf: &'a [u8],
    what: &'static str,
}

impl<'a> Reader<'a> {
    pub fn new(buf: &'a [u8], what: &'static str) -> Reader<'a> {
        Reader { buf, what }
    }
    fn take(&mut self, n: usize) -> Result<&'a [u8], WireError> {
        if self.buf.len() < n {
            return Err(WireError::Malformed(self.what));
        }
        let (head, rest) = self.buf.split_at(n);
        self.buf = rest;
        Ok(head)
    }
    pub fn u8(&mut self) -> Result<u8, WireError> {
        Ok(self.take(1)?[0])
    }
    pub fn u32(&mut self) -> Result<u32, WireError> {
        Ok(u32::from_le_bytes(self.take(4)?.try_into().expect("4 bytes")))
    }
    pub fn u64(&mut self) -> Result<u64, WireError> {
        Ok(u64::from_le_bytes(self.take(8)?.try_into().expect("8 bytes")))
    }
    pub fn u128(&mut self) -> Result<u128, WireError> {
        Ok(u128::from_le_bytes(self.take(16)?.try_into().expect("16 bytes")))
    }
    pub fn bytes(&mut self) -> Result<&'a [u8], WireError> {
        let n = self.u32()? as usize;
        self.take(n)
    }
    pub fn rest(&mut self) -> &'a [u8] {
        std::mem::take(&mut self.buf)
    }
    /// Fails unless every byte was consumed.
    pub fn finish(&self) -> Result<(), WireError> {
        if self.buf.is_empty() { Ok(()) } else { Err(WireError::Malformed(self.what)) }
    }
}

/// Sends a list of descriptors in counted batches: each message says how many it carries and
/// carries exactly that many; the receiver walks the same list in the same order.
pub fn send_fds(ch: &Channel, fds: &[RawFd]) -> Result<(), WireError> {
    let mut w = Writer::default();
    w.u32(fds.len() as u32);
    ch.send(tag::FDS, &w.0, &[])?;
    for batch in fds.chunks(MAX_FDS_PER_MESSAGE) {
        let mut w = Writer::default();
        w.u32(batch.len() as u32);
        ch.send(tag::FDS, &w.0, batch)?;
    }
    Ok(())
}

/// Receives what [`send_fds`] sent, in order.
pub fn recv_fds(ch: &Channel) -> Result<Vec<OwnedFd>, WireError> {
    recv_fds_with_room(ch, MAX_FDS_PER_MESSAGE)
}

/// [`recv_fds`] with control-data room for `max_fds` per message (tests shrink it).
pub fn recv_fds_with_room(ch: &Channel, max_fds: usize) -> Result<Vec<OwnedFd>, WireError> {
    let (payload, stray) = ch.expect(tag::FDS, "descriptor count")?;
    if !stray.is_empty() {
        return Err(WireError::FdCount { announced: 0, carried: stray.len() });
    }
    let mut r = Reader::new(&payload, "descriptor count");
    let total = r.u32()? as usize;
    r.finish()?;
    let mut out = Vec::with_capacity(total);
    while out.len() < total {
        let (payload, fds) = ch.expect_with_room(tag::FDS, "descriptor batch", max_fds)?;
        let mut r = Reader::new(&payload, "descriptor batch");
        let announced = r.u32()? as usize;
        r.finish()?;
        if announced != fds.len() || announced == 0 || out.len() + announced > total {
            return Err(WireError::FdCount { announced, carried: fds.len() });
        }
        out.extend(fds);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn devnull() -> OwnedFd {
        std::fs::File::open("/dev/null").unwrap().into()
    }

    #[test]
    fn test_messages_and_descriptors_round_trip() {
        let (a, b) = pair().unwrap();
        let files: Vec<OwnedFd> = (0..600).map(|_| devnull()).collect();
        let raw: Vec<RawFd> = files.iter().map(|f| f.as_raw_fd()).collect();
        a.send(tag::HELLO, b"hi", &[]).unwrap();
        let t = std::thread::spawn(move || send_fds(&a, &raw).map(|()| a));
        let (payload, fds) = b.expect(tag::HELLO, "hello").unwrap();
        assert_eq!((payload.as_slice(), fds.len()), (b"hi".as_slice(), 0));
        let got = recv_fds(&b).unwrap();
        assert_eq!(got.len(), 600, "600 descriptors in batches of at most 253");
        t.join().unwrap().unwrap();
    }

    #[test]
    fn test_count_mismatch_is_rejected() {
        let (a, b) = pair().unwrap();
        let f = devnull();
        let mut w = Writer::default();
        w.u32(2);
        a.send(tag::FDS, &w.0, &[]).unwrap();
        let mut w = Writer::default();
        w.u32(2); // announces two, carries one
        a.send(tag::FDS, &w.0, &[f.as_raw_fd()]).unwrap();
        assert!(matches!(recv_fds(&b), Err(WireError::FdCount { announced: 2, carried: 1 })));
    }

    #[test]
    fn test_closed_peer_and_error_messages() {
        let (a, b) = pair().unwrap();
        a.send(tag::ERROR, b"no memory", &[]).unwrap();
        assert!(
            matches!(b.expect(tag::READY, "ready"), Err(WireError::Failed(m)) if m == "no memory")
        );
        drop(a);
        assert!(matches!(b.recv(), Err(WireError::Closed)));
    }

    #[test]
    fn test_reader_rejects_short_payloads() {
        let mut r = Reader::new(&[1, 2, 3], "test");
        assert!(matches!(r.u32(), Err(WireError::Malformed("test"))));
        let mut r = Reader::new(&[1, 0, 0, 0, 9], "test");
        assert_eq!(r.u32().unwrap(), 1);
        assert!(r.finish().is_err());
    }
}
