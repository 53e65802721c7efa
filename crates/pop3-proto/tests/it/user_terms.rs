//! Issue 19: per-user LOGIN-DELAY and EXPIRE. CAPA before login shows the site's values with
//! `USER` where some user has their own (RFC 2449 §6.5, §6.7); after login, the user's values
//! without `USER`; EXPIRE 0 at QUIT follows the user's value.

use std::sync::Arc;

use pop3_proto::{
    AuthOutcome, Config, Connection, Expire, Listing, PerUser, Request, Session, UserTerms,
};

use crate::session::{drain, expect_request};

struct One;

impl Listing for One {
    fn len(&self) -> usize {
        1
    }
    fn wire_size(&self, _index: usize) -> u64 {
        7
    }
    fn uid(&self, _index: usize) -> &str {
        "0123456789abcdef0123456789abcdef"
    }
}

/// The lines of CAPA naming LOGIN-DELAY or EXPIRE.
fn policy_lines(session: &mut Session) -> Vec<String> {
    session.handle_input(b"CAPA\r\n");
    drain(session)
        .lines()
        .filter(|l| l.starts_with("LOGIN-DELAY") || l.starts_with("EXPIRE"))
        .map(str::to_owned)
        .collect()
}

/// A session of a site with `config`, where `per_user` vary; logged in with `terms` if given.
fn session(config: Config, per_user: PerUser, terms: Option<UserTerms>) -> Session {
    let conn = Connection {
        loopback: true,
        per_user,
        ..Connection::default()
    };
    let mut session = Session::new(Arc::new(config), conn);
    drain(&mut session);
    if let Some(terms) = terms {
        session.handle_input(b"USER bob\r\nPASS secret\r\n");
        assert!(matches!(
            expect_request(&mut session),
            Request::Authenticate(_)
        ));
        session.handle_user_terms(terms);
        session.handle_auth_result(AuthOutcome::Accepted);
        assert!(matches!(
            expect_request(&mut session),
            Request::OpenMaildrop
        ));
        session.handle_maildrop_opened(Ok(Arc::new(One)));
        drain(&mut session);
    }
    session
}

fn site() -> Config {
    Config {
        login_delay: Some(60),
        expire: Some(Expire::Days(30)),
        ..Config::default()
    }
}

#[test]
fn issue_19_capa_before_login_shows_the_least_value_tagged_user() {
    // Some users have their own: a longer delay and keeping mail for good.
    let longer = PerUser {
        login_delay: Some(900),
        expire: Some(Expire::Never),
    };
    let mut varies = session(site(), longer, None);
    assert_eq!(
        policy_lines(&mut varies),
        ["LOGIN-DELAY 60 USER", "EXPIRE 30 USER"]
    );
    // Some user has shorter values than the site's: those are what everyone is sure of.
    let shorter = PerUser {
        login_delay: Some(10),
        expire: Some(Expire::Days(7)),
    };
    let mut least = session(site(), shorter, None);
    assert_eq!(
        policy_lines(&mut least),
        ["LOGIN-DELAY 10 USER", "EXPIRE 7 USER"]
    );
    let mut fixed = session(site(), PerUser::default(), None);
    assert_eq!(policy_lines(&mut fixed), ["LOGIN-DELAY 60", "EXPIRE 30"]);
    // The site announces nothing (no delay, mail kept): the least is 0, or the users'.
    let mut unset = session(Config::default(), longer, None);
    assert_eq!(
        policy_lines(&mut unset),
        ["LOGIN-DELAY 0 USER", "EXPIRE NEVER USER"]
    );
    let mut unset_short = session(Config::default(), shorter, None);
    assert_eq!(
        policy_lines(&mut unset_short),
        ["LOGIN-DELAY 0 USER", "EXPIRE 7 USER"]
    );
}

#[test]
fn issue_19_capa_after_login_shows_the_users_own_values() {
    let both = PerUser {
        login_delay: Some(900),
        expire: Some(Expire::Never),
    };
    let terms = UserTerms {
        login_delay: Some(900),
        expire: Some(Expire::Never),
    };
    let mut bob = session(site(), both, Some(terms));
    assert_eq!(policy_lines(&mut bob), ["LOGIN-DELAY 900", "EXPIRE NEVER"]);
    // A user with no value of their own is given the site's.
    let site_terms = UserTerms {
        login_delay: Some(60),
        expire: Some(Expire::Days(30)),
    };
    let mut carol = session(site(), both, Some(site_terms));
    assert_eq!(policy_lines(&mut carol), ["LOGIN-DELAY 60", "EXPIRE 30"]);
    // Where the site announces nothing, a user without values of their own has "none".
    let mut dave = session(Config::default(), both, Some(UserTerms::default()));
    assert_eq!(policy_lines(&mut dave), ["LOGIN-DELAY 0", "EXPIRE NEVER"]);
}

#[test]
fn issue_19_expire_0_at_quit_follows_the_users_value() {
    // The site keeps mail; this user's EXPIRE is 0.
    let terms = UserTerms {
        login_delay: None,
        expire: Some(Expire::Days(0)),
    };
    let mut bob = session(site(), PerUser::default(), Some(terms));
    // And the other way round: the site's EXPIRE 0 does not apply to a user who keeps mail.
    let keep = UserTerms {
        login_delay: None,
        expire: Some(Expire::Never),
    };
    let zero_site = Config {
        expire: Some(Expire::Days(0)),
        ..Config::default()
    };
    let mut carol = session(zero_site, PerUser::default(), Some(keep));
    for (session, expired) in [(&mut bob, vec![0]), (&mut carol, vec![])] {
        session.handle_input(b"RETR 1\r\n");
        expect_request(session);
        session.handle_retrieve_opened(Ok(()));
        session.handle_body(b"Hello\r\n");
        session.handle_body_end();
        session.handle_input(b"QUIT\r\n");
        drain(session);
        let Request::Commit { expired: got, .. } = expect_request(session) else {
            panic!("expected the commit");
        };
        assert_eq!(got, expired);
    }
}
