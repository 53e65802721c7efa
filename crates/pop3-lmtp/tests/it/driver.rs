//! An in-memory driver: users are local parts, a delivery is a `Vec<u8>` per recipient.

use std::collections::HashMap;

use pop3_lmtp::{Config, Event, Outcome, Session, Verdict};

/// What the driver answers and what it received.
pub(crate) struct Driver {
    pub session: Session,
    /// Local parts that are users.
    pub users: Vec<&'static str>,
    /// Local parts whose lookup fails (database busy).
    pub lookup_fails: Vec<&'static str>,
    /// Outcome per local part at commit; absent means delivered.
    pub commit: HashMap<&'static str, Outcome>,
    /// The answer to MessageBegin.
    pub begin: Result<(), Outcome>,
    /// Deliveries in progress, one per accepted recipient.
    in_progress: Vec<(String, Vec<u8>)>,
    /// Committed messages: (recipient, octets).
    pub delivered: Vec<(String, Vec<u8>)>,
    pub aborted: usize,
    pub output: Vec<u8>,
    pub closed: bool,
}

impl Driver {
    pub(crate) fn new(config: Config) -> Driver {
        Driver {
            session: Session::new(config),
            users: vec!["alice", "bob", "carol"],
            lookup_fails: Vec::new(),
            commit: HashMap::new(),
            begin: Ok(()),
            in_progress: Vec::new(),
            delivered: Vec::new(),
            aborted: 0,
            output: Vec::new(),
            closed: false,
        }
    }

    /// Feeds `input` in pieces of `piece` octets, answering everything after each piece.
    pub(crate) fn feed(&mut self, input: &[u8], piece: usize) {
        self.pump();
        for chunk in input.chunks(piece.max(1)) {
            assert!(
                self.session.wants_input() || self.closed,
                "fed while not wanting input"
            );
            self.session.handle_input(chunk);
            self.pump();
            // The progress contract: with every event answered, the session either wants
            // input or is closed; otherwise a driver that reads only when asked would spin.
            assert!(
                self.session.wants_input() || self.session.is_closed(),
                "stuck: no event, no input wanted, not closed"
            );
        }
    }

    /// The output so far, as text.
    pub(crate) fn text(&self) -> String {
        String::from_utf8_lossy(&self.output).into_owned()
    }

    fn pump(&mut self) {
        loop {
            self.output.extend(self.session.take_output());
            let body = self.session.take_body();
            for (_, file) in &mut self.in_progress {
                file.extend_from_slice(&body);
            }
            let Some(event) = self.session.poll_event() else {
                return;
            };
            match event {
                Event::Recipient(address) => {
                    // As the server resolves them: `alice+tag` is `alice`.
                    let local = address.local.split('+').next().unwrap_or_default();
                    let verdict = if self.lookup_fails.contains(&local) {
                        Verdict::TempFail
                    } else if self.users.contains(&local) {
                        Verdict::Accept
                    } else {
                        Verdict::Unknown
                    };
                    self.session.handle_recipient(verdict);
                }
                Event::MessageBegin => {
                    if self.begin.is_ok() {
                        self.in_progress = (self.session.recipients().iter())
                            .map(|a| (a.local.clone(), Vec::new()))
                            .collect();
                    }
                    self.session.handle_message_begin(self.begin);
                }
                Event::MessageEnd => {
                    let mut outcomes = Vec::new();
                    for (local, file) in self.in_progress.drain(..) {
                        let outcome = self.commit.get(local.as_str()).copied();
                        let outcome = outcome.unwrap_or(Outcome::Delivered);
                        if outcome == Outcome::Delivered {
                            self.delivered.push((local, file));
                        }
                        outcomes.push(outcome);
                    }
                    self.session.handle_delivered(&outcomes);
                }
                Event::MessageAborted => {
                    self.in_progress.clear();
                    self.aborted += 1;
                }
                Event::Close => self.closed = true,
            }
        }
    }
}

/// Runs `input` whole and byte by byte with drivers made by `setup`; both must agree.
pub(crate) fn run(input: &str, setup: impl Fn(&mut Driver)) -> Driver {
    let mut whole = Driver::new(Config::default());
    setup(&mut whole);
    whole.feed(input.as_bytes(), input.len());
    let mut bytewise = Driver::new(Config::default());
    setup(&mut bytewise);
    bytewise.feed(input.as_bytes(), 1);
    assert_eq!(
        whole.text(),
        bytewise.text(),
        "replies depend on how input was split"
    );
    assert_eq!(whole.delivered, bytewise.delivered);
    whole
}

/// The reply lines after the greeting, codes and status codes only (`250 2.1.5`), or the
/// whole line for replies without a status code.
pub(crate) fn codes(driver: &Driver) -> Vec<String> {
    driver
        .text()
        .lines()
        .skip(1)
        .map(|l| l.split(' ').take(2).collect::<Vec<_>>().join(" "))
        .collect()
}
