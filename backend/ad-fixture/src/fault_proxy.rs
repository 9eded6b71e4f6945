//! An LDAP-aware fault proxy for tests: forwards plain LDAP (`ldap://`) between clients and a
//! directory (Samba, or the fixture) and reads every message in both directions, framed by its
//! BER length and decoded with `ldap3_proto`, so a test can hold or drop the reply to a chosen
//! operation, or hang the directory altogether. Bytes it lets through pass unchanged.
//!
//! - [`LdapFaultProxy::hold_replies`]: matching requests reach the directory, which applies
//!   them; their replies are held until [`LdapFaultProxy::release`].
//! - [`LdapFaultProxy::drop_reply_once`]: the next matching request reaches the directory, its
//!   reply is lost, and the connection then goes on, stays silent or is closed ([`AfterDrop`]).
//! - [`LdapFaultProxy::hang`]: a stopped DC process: connections are accepted, requests wait
//!   unread and nothing is answered until [`LdapFaultProxy::release`], which lets everything
//!   held through in order (the directory then works through what queued up).

use std::{
    collections::{HashMap, HashSet},
    net::SocketAddr,
    sync::{Arc, Mutex, MutexGuard},
};

use ldap3_proto::{LdapCodec, proto::LdapOp};
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::{TcpListener, TcpStream},
    sync::watch,
    task::JoinHandle,
};
use tokio_util::{
    bytes::{Bytes, BytesMut},
    codec::Decoder,
};

/// Which requests a fault applies to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Matcher {
    Any,
    Bind,
    Search,
    /// Any modify request.
    Modify,
    /// A modify request whose DN contains this text (case-insensitive).
    ModifyOf(String),
}

impl Matcher {
    fn matches(&self, request: &Request) -> bool {
        match self {
            Self::Any => true,
            Self::Bind => request.kind == Kind::Bind,
            Self::Search => request.kind == Kind::Search,
            Self::Modify => request.kind == Kind::Modify,
            Self::ModifyOf(text) => {
                request.kind == Kind::Modify
                    && request.dn.to_lowercase().contains(&text.to_lowercase())
            }
        }
    }
}

/// What a connection does after [`LdapFaultProxy::drop_reply_once`] lost a reply on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AfterDrop {
    /// Other operations on it are answered as usual.
    Continue,
    /// Nothing more passes in either direction, until the client gives up on it.
    Silent,
    /// Closed at once, as by a DC or network failure right after the write.
    Close,
}

/// A request as the proxy saw it on its way to the directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    pub kind: Kind,
    /// The entry it names (bind name, search base, modified entry); empty for others.
    pub dn: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Bind,
    Unbind,
    Search,
    Modify,
    Add,
    Delete,
    ModifyDn,
    Compare,
    Abandon,
    Extended,
    /// Not decoded (the proxy forwards it all the same).
    Other,
}

#[derive(Default)]
struct Faults {
    hold: Vec<Matcher>,
    drop_once: Option<(Matcher, AfterDrop)>,
    hung: bool,
    /// Every request forwarded to the directory, in order.
    forwarded: Vec<Request>,
}

struct Shared {
    faults: Mutex<Faults>,
    /// Bumped by `release`: connections let what they hold through.
    released: watch::Sender<u64>,
}

impl Shared {
    fn faults(&self) -> MutexGuard<'_, Faults> {
        self.faults
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// A running fault proxy on 127.0.0.1; stops accepting when dropped (connections already made
/// end when their client or the directory closes them).
pub struct LdapFaultProxy {
    addr: SocketAddr,
    shared: Arc<Shared>,
    task: JoinHandle<()>,
}

impl Drop for LdapFaultProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl LdapFaultProxy {
    /// Forwards to the plain-LDAP directory at `upstream`.
    pub async fn start(upstream: SocketAddr) -> std::io::Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(Shared {
            faults: Mutex::new(Faults::default()),
            released: watch::Sender::new(0),
        });
        let accepting = shared.clone();
        let task = tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let _ = client.set_nodelay(true);
                tokio::spawn(link(client, upstream, accepting.clone()));
            }
        });
        Ok(Self { addr, shared, task })
    }

    /// Where clients connect.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `ldap://` and the proxy's address.
    pub fn url(&self) -> String {
        format!("ldap://{}", self.addr)
    }

    /// From now on, the replies to requests `which` matches are held until [`Self::release`]
    /// (the directory gets and applies the requests).
    pub fn hold_replies(&self, which: Matcher) {
        self.shared.faults().hold.push(which);
    }

    /// The reply to the next request `which` matches is lost (the directory gets and applies
    /// the request); the connection then does as `then` says.
    pub fn drop_reply_once(&self, which: Matcher, then: AfterDrop) {
        self.shared.faults().drop_once = Some((which, then));
    }

    /// Hangs the directory: every connection, open or new, is accepted and answered nothing;
    /// requests are held unread, as by a DC whose process was stopped.
    pub fn hang(&self) {
        self.shared.faults().hung = true;
    }

    /// Ends holds and the hang; everything held goes through in the order it came.
    pub fn release(&self) {
        {
            let mut faults = self.shared.faults();
            faults.hold.clear();
            faults.hung = false;
        }
        self.shared.released.send_modify(|n| *n += 1);
    }

    /// The requests forwarded to the directory so far that `which` matches.
    pub fn forwarded(&self, which: &Matcher) -> Vec<Request> {
        self.shared
            .faults()
            .forwarded
            .iter()
            .filter(|r| which.matches(r))
            .cloned()
            .collect()
    }
}

/// One client connection and its own connection to the directory.
async fn link(client: TcpStream, upstream: SocketAddr, shared: Arc<Shared>) {
    let Ok(server) = TcpStream::connect(upstream).await else {
        return;
    };
    let _ = server.set_nodelay(true);
    let mut released = shared.released.subscribe();
    let (mut client_read, mut client_write) = client.into_split();
    let (mut server_read, mut server_write) = server.into_split();
    let (mut from_client, mut from_server) = (BytesMut::new(), BytesMut::new());
    let mut state = Link::default();
    loop {
        tokio::select! {
            read = client_read.read_buf(&mut from_client) => {
                if !matches!(read, Ok(n) if n > 0) {
                    return;
                }
                while let Some(frame) = next_frame(&mut from_client) {
                    let Some(frame) = frame else { return };
                    if let Some(forward) = state.request(frame, &shared)
                        && server_write.write_all(&forward).await.is_err()
                    {
                        return;
                    }
                }
            }
            read = server_read.read_buf(&mut from_server) => {
                if !matches!(read, Ok(n) if n > 0) {
                    return;
                }
                while let Some(frame) = next_frame(&mut from_server) {
                    let Some(frame) = frame else { return };
                    match state.reply(frame, &shared) {
                        ToClient::Send(reply) => {
                            if client_write.write_all(&reply).await.is_err() {
                                return;
                            }
                        }
                        ToClient::Nothing => {}
                        ToClient::Close => return,
                    }
                }
            }
            changed = released.changed() => {
                if changed.is_err() {
                    return;
                }
                let (up, down) = state.release(&shared);
                for frame in up {
                    if server_write.write_all(&frame).await.is_err() {
                        return;
                    }
                }
                for frame in down {
                    if client_write.write_all(&frame).await.is_err() {
                        return;
                    }
                }
            }
        }
    }
}

/// What one connection holds and owes.
#[derive(Default)]
struct Link {
    /// Requests not yet forwarded (the directory hangs).
    requests_held: Vec<(Request, Bytes)>,
    /// Replies not yet passed on (held, or the directory hangs).
    replies_held: Vec<Bytes>,
    /// Message ids whose replies are held.
    holding: HashSet<i32>,
    /// Message ids whose replies are lost, and what follows.
    dropping: HashMap<i32, AfterDrop>,
    silent: bool,
}

enum ToClient {
    Send(Bytes),
    Nothing,
    Close,
}

impl Link {
    /// A client's request: the bytes to forward now, if any.
    fn request(&mut self, frame: Bytes, shared: &Shared) -> Option<Bytes> {
        if self.silent {
            return None;
        }
        let (id, request) = read_request(&frame);
        let mut faults = shared.faults();
        if faults.hung || !self.requests_held.is_empty() {
            self.requests_held.push((request, frame));
            return None;
        }
        if faults.hold.iter().any(|m| m.matches(&request)) {
            self.holding.insert(id);
        }
        if let Some((which, then)) = faults.drop_once.clone()
            && which.matches(&request)
        {
            faults.drop_once = None;
            self.dropping.insert(id, then);
        }
        faults.forwarded.push(request);
        Some(frame)
    }

    /// A directory's reply: what the client gets of it.
    fn reply(&mut self, frame: Bytes, shared: &Shared) -> ToClient {
        if self.silent {
            return ToClient::Nothing;
        }
        let (id, last) = read_reply(&frame);
        if let Some(then) = self.dropping.get(&id).copied() {
            if !last {
                return ToClient::Nothing;
            }
            self.dropping.remove(&id);
            return match then {
                AfterDrop::Continue => ToClient::Nothing,
                AfterDrop::Silent => {
                    self.silent = true;
                    ToClient::Nothing
                }
                AfterDrop::Close => ToClient::Close,
            };
        }
        if shared.faults().hung || self.holding.contains(&id) {
            self.replies_held.push(frame);
            return ToClient::Nothing;
        }
        ToClient::Send(frame)
    }

    /// After `release`: (requests to forward, replies to pass on), in the order they came.
    fn release(&mut self, shared: &Shared) -> (Vec<Bytes>, Vec<Bytes>) {
        let mut faults = shared.faults();
        if faults.hung {
            return (Vec::new(), Vec::new());
        }
        self.holding.clear();
        let requests = std::mem::take(&mut self.requests_held);
        let mut up = Vec::with_capacity(requests.len());
        for (request, frame) in requests {
            faults.forwarded.push(request);
            up.push(frame);
        }
        (up, std::mem::take(&mut self.replies_held))
    }
}

/// The next whole BER element of `buf`, split off; `Some(None)` when it cannot be framed
/// (not LDAP: the connection is dropped).
fn next_frame(buf: &mut BytesMut) -> Option<Option<Bytes>> {
    match frame_len(buf) {
        Framed::Whole(n) => Some(Some(buf.split_to(n).freeze())),
        Framed::Partial => None,
        Framed::Bad => Some(None),
    }
}

enum Framed {
    Whole(usize),
    Partial,
    Bad,
}

/// The length of the BER element at the start of `buf` (tag, length, contents).
fn frame_len(buf: &[u8]) -> Framed {
    let Some(&first) = buf.get(1) else {
        return Framed::Partial;
    };
    let (len, header) = if first & 0x80 == 0 {
        (usize::from(first), 2)
    } else {
        let n = usize::from(first & 0x7f);
        if n == 0 || n > 4 {
            return Framed::Bad;
        }
        let Some(bytes) = buf.get(2..2 + n) else {
            return Framed::Partial;
        };
        let len = bytes.iter().fold(0usize, |l, b| (l << 8) | usize::from(*b));
        (len, 2 + n)
    };
    if buf.len() < header + len {
        Framed::Partial
    } else {
        Framed::Whole(header + len)
    }
}

/// A request's message id and what it is, decoded with `ldap3_proto`; what it cannot decode
/// is `Kind::Other`, identified by the BER header alone.
fn read_request(frame: &[u8]) -> (i32, Request) {
    let unknown = |id| {
        (
            id,
            Request {
                kind: Kind::Other,
                dn: String::new(),
            },
        )
    };
    let Ok(Some(msg)) = LdapCodec::default().decode(&mut BytesMut::from(frame)) else {
        return unknown(peek(frame).map_or(-1, |(id, _)| id));
    };
    let (kind, dn) = match msg.op {
        LdapOp::BindRequest(b) => (Kind::Bind, b.dn),
        LdapOp::UnbindRequest => (Kind::Unbind, String::new()),
        LdapOp::SearchRequest(s) => (Kind::Search, s.base),
        LdapOp::ModifyRequest(m) => (Kind::Modify, m.dn),
        LdapOp::AddRequest(a) => (Kind::Add, a.dn),
        LdapOp::DelRequest(dn) => (Kind::Delete, dn),
        LdapOp::ModifyDNRequest(m) => (Kind::ModifyDn, m.dn),
        LdapOp::CompareRequest(c) => (Kind::Compare, c.dn),
        LdapOp::AbandonRequest(_) => (Kind::Abandon, String::new()),
        LdapOp::ExtendedRequest(_) => (Kind::Extended, String::new()),
        _ => return unknown(msg.msgid),
    };
    (msg.msgid, Request { kind, dn })
}

/// A reply's message id and whether it is the last message for it (search entries,
/// references and intermediate responses come before a final one).
fn read_reply(frame: &[u8]) -> (i32, bool) {
    match LdapCodec::default().decode(&mut BytesMut::from(frame)) {
        Ok(Some(msg)) => {
            let last = !matches!(
                msg.op,
                LdapOp::SearchResultEntry(_)
                    | LdapOp::SearchResultReference(_)
                    | LdapOp::IntermediateResponse(_)
            );
            (msg.msgid, last)
        }
        // RFC 4511 application tags 4, 19 and 25: entry, reference, intermediate response
        _ => peek(frame).map_or((-1, true), |(id, tag)| (id, !matches!(tag, 4 | 19 | 25))),
    }
}

/// (message id, protocolOp application tag) from an LDAPMessage's BER header.
fn peek(frame: &[u8]) -> Option<(i32, u8)> {
    let header = match frame.get(1)? {
        l if l & 0x80 == 0 => 2,
        l => 2 + usize::from(l & 0x7f),
    };
    let rest = frame.get(header..)?;
    if *rest.first()? != 0x02 {
        return None;
    }
    let n = usize::from(*rest.get(1)?);
    let id_bytes = rest.get(2..2 + n)?;
    if n == 0 || n > 4 {
        return None;
    }
    let id = id_bytes
        .iter()
        .fold(if id_bytes[0] & 0x80 != 0 { -1i32 } else { 0 }, |v, b| {
            (v << 8) | i32::from(*b)
        });
    let tag = rest.get(2 + n)? & 0x1f;
    Some((id, tag))
}

#[cfg(test)]
mod tests {
    use super::*;

    // LDAPMessage { messageID 5, modifyResponse { success, "", "" } }
    const MODIFY_RESPONSE: [u8; 14] = [
        0x30, 0x0c, 0x02, 0x01, 0x05, 0x67, 0x07, 0x0a, 0x01, 0x00, 0x04, 0x00, 0x04, 0x00,
    ];

    #[test]
    fn frames_split_at_the_ber_length_and_keep_their_bytes() {
        let mut buf = BytesMut::from(&MODIFY_RESPONSE[..]);
        buf.extend_from_slice(&MODIFY_RESPONSE[..5]);
        let first = next_frame(&mut buf).unwrap().unwrap();
        assert_eq!(&first[..], &MODIFY_RESPONSE[..]);
        assert!(next_frame(&mut buf).is_none(), "a partial frame waits");
        assert_eq!(buf.len(), 5);
    }

    #[test]
    fn long_form_lengths_frame() {
        let mut message = vec![0x30, 0x82, 0x01, 0x00];
        message.extend(std::iter::repeat_n(0u8, 0x100));
        assert!(matches!(frame_len(&message), Framed::Whole(0x104)));
        assert!(matches!(frame_len(&message[..100]), Framed::Partial));
        assert!(matches!(frame_len(&[0x30, 0x80]), Framed::Bad));
    }

    #[test]
    fn replies_are_known_by_message_id_and_tag() {
        assert_eq!(read_reply(&MODIFY_RESPONSE), (5, true));
        assert_eq!(peek(&MODIFY_RESPONSE), Some((5, 7)));
        let mut entry = MODIFY_RESPONSE;
        entry[5] = 0x64; // searchResEntry: not the last message of its operation
        assert!(!read_reply(&entry).1);
    }

    #[test]
    fn matchers_pick_operations() {
        let modify = Request {
            kind: Kind::Modify,
            dn: "CN=jit-role-dba,OU=JIT Roles,DC=example,DC=test".into(),
        };
        assert!(Matcher::Any.matches(&modify));
        assert!(Matcher::Modify.matches(&modify));
        assert!(Matcher::ModifyOf("JIT-ROLE-DBA".into()).matches(&modify));
        assert!(!Matcher::ModifyOf("jit-role-web".into()).matches(&modify));
        assert!(!Matcher::Search.matches(&modify));
    }
}
