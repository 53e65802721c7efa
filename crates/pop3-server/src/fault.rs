//! Fault injection for the hardening tests, compiled in only with the `fault-injection`
//! feature (`cargo xtask ci` enables it for the test build; release builds never have it).
//! Each fault is armed by an environment variable of the `pop3d` process:
//!
//! - `POP3D_FAULT_PAUSE_UPDATE_AFTER=k`: UPDATE stops forever after its k-th unlink, after
//!   printing `fault: paused in UPDATE after k unlinks` to stderr, so that a test can
//!   `kill -9` the server at exactly that point.
//! - `POP3D_FAULT_PANIC_ON=<text>`: a session panics when its input contains `<text>`.
//!
//! Without the feature both hooks are empty inline functions.

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
pub(crate) use armed::{after_unlink, on_input};

/// Called after each unlink of UPDATE.
#[cfg(not(feature = "fault-injection"))]
#[inline(always)]
pub(crate) fn after_unlink(_removed: usize) {}

/// Called with each piece of client input.
#[cfg(not(feature = "fault-injection"))]
#[inline(always)]
pub(crate) fn on_input(_bytes: &[u8]) {}
