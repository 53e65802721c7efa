//! An in-memory driver: the smallest faithful stand-in for the server, used to run the session
//! without sockets. It follows the call order documented on `Session` and checks it.

use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;

use md5::{Digest, Md5};
use pop3_proto::{
    AuthOutcome, ChallengeAnswer, CommitOutcome, Config, Connection, Event, Listing, OpenError,
    Progress, Request, RetrieveError, Secret, Session, State, wire_size,
};

/// The timestamp of the RFC 1939 §7 example, so that its digest is a known answer.
pub const RFC_TIMESTAMP: &str = "<1896.697170952@dbc.mtview.ca.us>";

/// A user of the in-memory store.
#[derive(Clone, Debug, Default)]
pub struct User {
    pub password: Vec<u8>,
    pub apop_secret: Option<String>,
    pub messages: Vec<Vec<u8>>,
    pub locked: bool,
}

/// Users by lower-cased name.
pub type Store = BTreeMap<String, User>;

/// How the driver splits what it feeds the session.
#[derive(Clone, Copy, Debug)]
pub struct Chunking {
    /// Bytes of client input per `handle_input` call.
    pub input: usize,
    /// Bytes of message per `handle_body` call.
    pub body: usize,
    /// Bytes taken from `poll_transmit` per `advance_transmit` call.
    pub transmit: usize,
}

impl Chunking {
    pub const WHOLE: Chunking = Chunking {
        input: usize::MAX,
        body: 64 * 1024,
        transmit: usize::MAX,
    };
}

struct MemListing {
    sizes: Vec<u64>,
    uids: Vec<String>,
}

impl Listing for MemListing {
    fn len(&self) -> usize {
        self.sizes.len()
    }
    fn wire_size(&self, index: usize) -> u64 {
        self.sizes[index]
    }
    fn uid(&self, index: usize) -> &str {
        &self.uids[index]
    }
}

/// A session with its driver.
pub struct Harness {
    pub session: Session,
    pub store: Store,
    pub chunking: Chunking,
    /// Everything the session sent.
    pub output: Vec<u8>,
    pub closed: bool,
    /// Every command record the session produced.
    pub records: Vec<pop3_proto::CommandRecord>,
    /// Client bytes not yet fed.
    pending_input: VecDeque<u8>,
    /// The user the last accepted authentication was for, whose maildrop the session asks
    /// to open next (`Request::OpenMaildrop` names no one: the driver knows).
    accepted_user: Option<String>,
    /// The user whose maildrop is open.
    open_user: Option<String>,
    /// The wire sizes of the open maildrop's listing, which a retrieved file must still have.
    listed: Vec<u64>,
}

impl Harness {
    pub fn new(config: Config, conn: Connection, store: Store, chunking: Chunking) -> Harness {
        let mut harness = Harness {
            session: Session::new(Arc::new(config), conn),
            store,
            chunking,
            output: Vec::new(),
            closed: false,
            records: Vec::new(),
            pending_input: VecDeque::new(),
            accepted_user: None,
            open_user: None,
            listed: Vec::new(),
        };
        harness.drive();
        harness
    }

    /// The client sends bytes; the driver runs until the session waits for more input.
    pub fn send(&mut self, bytes: &[u8]) {
        self.pending_input.extend(bytes);
        self.drive();
    }

    /// The client goes away: the driver drops the session without any call.
    pub fn drop_connection(&mut self) {
        self.closed = true;
        self.release();
    }

    /// Takes the output produced so far.
    pub fn take_output(&mut self) -> Vec<u8> {
        std::mem::take(&mut self.output)
    }

    /// The driver loop from the `Session` docs.
    pub fn drive(&mut self) {
        while !self.closed {
            while let Some(record) = self.session.poll_command_record() {
                self.records.push(record);
            }
            if self.flush() {
                continue;
            }
            if let Some(event) = self.session.poll_event() {
                match event {
                    Event::Request(request) => self.complete(request),
                    Event::StartTls => {
                        // Whatever the client sent before the handshake was plaintext: a real
                        // TLS layer would read it as (broken) handshake bytes, never as commands.
                        self.pending_input.clear();
                        self.session.handle_tls_established();
                    }
                    Event::Close => {
                        assert!(self.session.poll_transmit().is_empty());
                        while let Some(record) = self.session.poll_command_record() {
                            self.records.push(record);
                        }
                        self.closed = true;
                        self.release();
                    }
                }
                continue;
            }
            if self.session.wants_input() && !self.pending_input.is_empty() {
                let n = self.chunking.input.min(self.pending_input.len());
                let chunk: Vec<u8> = self.pending_input.drain(..n).collect();
                self.session.handle_input(&chunk);
                continue;
            }
            break;
        }
    }

    /// Moves some output; returns whether there was any.
    fn flush(&mut self) -> bool {
        let pending = self.session.poll_transmit();
        if pending.is_empty() {
            return false;
        }
        let n = self.chunking.transmit.min(pending.len());
        self.output.extend_from_slice(&pending[..n]);
        self.session.advance_transmit(n);
        true
    }

    fn release(&mut self) {
        if let Some(user) = self.open_user.take()
            && let Some(u) = self.store.get_mut(&user)
        {
            u.locked = false;
        }
    }

    fn complete(&mut self, request: Request) {
        match request {
            Request::Authenticate(credentials) => {
                let user = credentials.user.to_lowercase();
                let outcome = self.verify(&user, &credentials.secret);
                self.accepted_user = (outcome == AuthOutcome::Accepted).then_some(user);
                self.session.handle_auth_result(outcome);
            }
            // SCRAM's messages are `pop3-auth`'s; its ferrying is tested in `scram.rs`.
            Request::SaslChallenge { .. } => self.session.handle_sasl_challenge(
                ChallengeAnswer::Invalid("no SCRAM in the in-memory driver".into()),
            ),
            Request::OpenMaildrop => {
                let user = self
                    .accepted_user
                    .take()
                    .expect("OpenMaildrop only after an accepted authentication");
                let result = match self.store.get_mut(&user) {
                    Some(u) if u.locked => Err(OpenError::InUse { holder: None }),
                    Some(u) => {
                        u.locked = true;
                        self.listed = u.messages.iter().map(|m| wire_size(m)).collect();
                        let listing = MemListing {
                            sizes: self.listed.clone(),
                            uids: (0..u.messages.len()).map(|i| format!("uid-{i}")).collect(),
                        };
                        self.open_user = Some(user);
                        Ok(Arc::new(listing) as Arc<dyn Listing>)
                    }
                    None => Err(OpenError::Permanent),
                };
                self.session.handle_maildrop_opened(result);
            }
            Request::Retrieve { index, .. } => self.retrieve(index, self.listed[index]),
            Request::Commit {
                deleted, expired, ..
            } => {
                let mut deleted = deleted;
                deleted.extend(expired);
                deleted.sort_unstable();
                assert_eq!(self.session.state(), State::Update);
                let user = self
                    .open_user
                    .clone()
                    .expect("commit without open maildrop");
                let u = self.store.get_mut(&user).expect("open user exists");
                for &index in deleted.iter().rev() {
                    u.messages.remove(index);
                }
                self.session.handle_commit_result(CommitOutcome::Removed);
            }
        }
    }

    fn verify(&self, user: &str, secret: &Secret) -> AuthOutcome {
        let Some(u) = self.store.get(user) else {
            return AuthOutcome::Rejected;
        };
        let ok = match secret {
            Secret::Password { password, .. } => *password == u.password,
            Secret::Apop { timestamp, digest } => u
                .apop_secret
                .as_ref()
                .is_some_and(|s| apop_digest(timestamp, s) == *digest),
            other => panic!("unknown secret {:?}", other.method()),
        };
        if ok {
            AuthOutcome::Accepted
        } else {
            AuthOutcome::Rejected
        }
    }

    fn retrieve(&mut self, index: usize, listed: u64) {
        let user = self
            .open_user
            .clone()
            .expect("retrieve without open maildrop");
        let message = self.store[&user].messages[index].clone();
        if wire_size(&message) != listed {
            self.session
                .handle_retrieve_opened(Err(RetrieveError::SizeChanged));
            return;
        }
        self.session.handle_retrieve_opened(Ok(()));
        for chunk in message.chunks(self.chunking.body) {
            // Drain before each chunk: this is what bounds the session's memory.
            while self.flush() {}
            if self.session.handle_body(chunk) == Progress::Complete {
                break;
            }
        }
        self.session.handle_body_end();
    }
}

/// MD5(timestamp + secret) in lowercase hex (RFC 1939 §7).
pub fn apop_digest(timestamp: &str, secret: &str) -> String {
    let mut md5 = Md5::new();
    md5.update(timestamp.as_bytes());
    md5.update(secret.as_bytes());
    md5.finalize().iter().map(|b| format!("{b:02x}")).collect()
}
