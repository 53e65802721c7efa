//! SASL on arbitrary client lines: base64 decoding and the PLAIN, LOGIN and (ferried)
//! SCRAM-SHA-256 exchanges.
//! Checked: no panic; decoding is bounded and canonical (what decodes re-encodes to the same
//! line, so one password has one spelling); encoding round-trips; a finished exchange yields a
//! non-empty identity without control characters and a non-empty password without NUL.
#![no_main]

use libfuzzer_sys::fuzz_target;
use pop3_proto::sasl::{self, Exchange, MAX_DECODED_RESPONSE, Mechanism, Step};

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    // Every line on its own: the decoder's contract.
    for line in rest.split(|&b| b == b'\n') {
        if let Ok(decoded) = sasl::decode_response(line) {
            assert!(decoded.len() <= MAX_DECODED_RESPONSE);
            if line != b"=" {
                assert_eq!(sasl::encode(&decoded).as_bytes(), line, "not canonical");
            }
        }
    }
    // The whole input as bytes to encode: decoding gives them back.
    if rest.len() <= MAX_DECODED_RESPONSE {
        let encoded = sasl::encode(rest);
        let decoded = sasl::decode_response(encoded.as_bytes());
        if rest.is_empty() {
            // The empty response is spelled `=` on the wire, never as an empty line.
            assert!(decoded.as_ref().is_ok_and(Vec::is_empty) || decoded.is_err());
        } else {
            assert_eq!(decoded.as_deref(), Ok(rest));
        }
    }
    // An exchange: lines after the first are the client's responses.
    let mechanism = match mode & 5 {
        0 => Mechanism::Plain,
        1 => Mechanism::Login,
        _ => Mechanism::ScramSha256,
    };
    let mut lines = rest.split(|&b| b == b'\n');
    let initial = if mode & 2 == 2 { lines.next() } else { None };
    let Ok((mut exchange, mut step)) = Exchange::start(mechanism, initial) else {
        return;
    };
    loop {
        match step {
            Step::Done(credentials) => {
                assert!(!credentials.user.is_empty());
                assert!(!credentials.user.chars().any(char::is_control));
                assert!(!credentials.password.is_empty());
                assert!(!credentials.password.contains(&0));
                return;
            }
            // SCRAM: the driver answers the client-first (as `pop3-auth` would), the
            // client-final goes to verification; both are bounded like any response.
            Step::Relay(response) => {
                assert!(response.len() <= MAX_DECODED_RESPONSE);
                exchange.challenge_sent("u".into());
                let Some(line) = lines.next() else { return };
                step = match exchange.step(line) {
                    Ok(next) => next,
                    Err(_) => return,
                };
            }
            Step::Verify { user, response } => {
                assert_eq!(user, "u");
                assert!(response.len() <= MAX_DECODED_RESPONSE);
                return;
            }
            Step::Acknowledged => return,
            // Only after the server-first message, for the user it was sent for.
            Step::Abandoned { user } => {
                assert_eq!(user, "u");
                return;
            }
            Step::Challenge(_) => {
                let Some(line) = lines.next() else { return };
                step = match exchange.step(line) {
                    Ok(next) => next,
                    Err(_) => return,
                };
            }
        }
    }
});
