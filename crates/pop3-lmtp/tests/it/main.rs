//! The LMTP core in memory: a driver with users and Maildirs as maps, and conversations run
//! through it whole and byte by byte.

mod driver;
mod session;
mod transcripts;
