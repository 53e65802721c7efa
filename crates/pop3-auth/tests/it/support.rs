//! Fixtures: a temporary database and cheap hash parameters.

use std::path::PathBuf;

use pop3_auth::UserStore as _;
use pop3_auth::{Authenticator, HashParams, PasswordHasher, UserDb, UserName};

/// Parameters cheap enough for tests; the defaults are exercised where cost matters.
pub const CHEAP: HashParams = HashParams {
    m_kib: 64,
    t: 1,
    p: 1,
};

pub struct TempDb {
    pub dir: tempfile::TempDir,
    pub path: PathBuf,
    pub db: UserDb,
}

impl TempDb {
    pub fn new() -> TempDb {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("users.db");
        let db = UserDb::open(&path).unwrap();
        TempDb { dir, path, db }
    }

    pub fn add(&self, name: &str, password: &str) -> UserName {
        let name = UserName::parse(name).unwrap();
        let maildir = self
            .dir
            .path()
            .join("mail")
            .join(name.as_str())
            .join("Maildir");
        self.db
            .add(&name, password.as_bytes(), &maildir, &hasher())
            .unwrap();
        name
    }
}

pub fn hasher() -> PasswordHasher {
    PasswordHasher::new(CHEAP).unwrap()
}

pub fn authenticator(apop: bool) -> Authenticator {
    Authenticator::new(CHEAP, apop).unwrap()
}
