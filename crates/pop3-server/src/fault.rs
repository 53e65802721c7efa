//! Fault injection for the hardening tests, compiled in only with the `fault-injection`
//! feature (`cargo xtask ci` enables it for the test build; release builds never have it).
//! Each fault is armed by an environment variable of the `pop3d` process:
//!
//! - `POP3D_FAULT_PAUSE_UPDATE_AFTER=k`: UPDATE stops forever after its k-th unlink, after
//!   printing `fault: paused in UPDATE after k unlinks` to stderr, so that a test can
//!   `kill -9` the server at exactly that point.
//! - `POP3D_FAULT_PANIC_ON=<text>`: a session panics when its input contains `<text>`.
//! - `POP3D_FAULT_PAUSE_BEFORE_CLOSE_MS=n`: a session that asked to close (QUIT) waits n ms
//!   first, so that a test can see what the client sees meanwhile (the lock must already be
//!   free when the QUIT reply arrives).
//! - `POP3D_FAULT_STALL_MESSAGE_OPEN=1`: opening a message for RETR/TOP blocks its blocking
//!   thread forever, like a read from a dead disk.
//!
//! Without the feature the hooks are empty inline functions.

#[cfg(feature = "fault-injection")]
mod armed {
    use std::sync::OnceLock;

    /// After how many unlinks UPDATE pauses, read once.
    fn pause_after() -> Option<usize> {
        static PAUSE: OnceLock<Option<usize>> = OnceLock::new();
        *PAUSE.get_or_init(|| {
            std::env::var("POP3D_FAULT_PAUSE_UPDATE_AFTER")
                .ok()
                .and_then(|k| k.parse().ok())
        })
    }

    /// The input that makes a session panic, read once.
    fn panic_trigger() -> Option<&'static [u8]> {
        static TRIGGER: OnceLock<Option<String>> = OnceLock::new();
        TRIGGER
            .get_or_init(|| std::env::var("POP3D_FAULT_PANIC_ON").ok())
            .as_deref()
            .filter(|t| !t.is_empty())
            .map(str::as_bytes)
    }

    /// How long a closing session pauses, read once.
    pub(crate) fn pause_before_close() -> Option<std::time::Duration> {
        static PAUSE: OnceLock<Option<u64>> = OnceLock::new();
        PAUSE
            .get_or_init(|| {
                std::env::var("POP3D_FAULT_PAUSE_BEFORE_CLOSE_MS")
                    .ok()
                    .and_then(|ms| ms.parse().ok())
            })
            .map(std::time::Duration::from_millis)
    }

    /// Blocks forever when message opens are to stall.
    pub(crate) fn before_message_open() {
        static STALL: OnceLock<bool> = OnceLock::new();
        if *STALL.get_or_init(|| std::env::var_os("POP3D_FAULT_STALL_MESSAGE_OPEN").is_some()) {
            eprintln!("fault: message open stalled");
            loop {
                std::thread::park();
            }
        }
    }

    pub(crate) fn after_unlink(removed: usize) {
        if pause_after() == Some(removed) {
            eprintln!("fault: paused in UPDATE after {removed} unlinks");
            loop {
                std::thread::park();
            }
        }
    }

    pub(crate) fn on_input(bytes: &[u8]) {
        if let Some(trigger) = panic_trigger()
            && bytes.windows(trigger.len()).any(|window| window == trigger)
        {
            panic!("fault injection: panic inside a session");
        }
    }
}

#[cfg(feature = "fault-injection")]
pub(crate) use armed::{after_unlink, before_message_open, on_input, pause_before_close};

/// Called after each unlink of UPDATE.
#[cfg(not(feature = "fault-injection"))]
#[inline(always)]
pub(crate) fn after_unlink(_removed: usize) {}

/// Called with each piece of client input.
#[cfg(not(feature = "fault-injection"))]
#[inline(always)]
pub(crate) fn on_input(_bytes: &[u8]) {}

/// How long a session that asked to close pauses first (never, without the feature).
#[cfg(not(feature = "fault-injection"))]
#[inline(always)]
pub(crate) fn pause_before_close() -> Option<std::time::Duration> {
    None
}

/// Called on a blocking thread before a message is opened for RETR/TOP.
#[cfg(not(feature = "fault-injection"))]
#[inline(always)]
pub(crate) fn before_message_open() {}
