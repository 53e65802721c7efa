use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;

use super::*;

/// RFC 7677 §3: user `user`, password `pencil`.
const CLIENT_FIRST: &str = "n,,n=user,r=rOprNGfwEbeRWgbNEkqO";
const SERVER_NONCE: &str = "%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0";
const SALT: &str = "W22ZaJ0SNY7soEsUEjb6gQ==";
const SERVER_FIRST: &str = "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,\
                            s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096";
const CLIENT_FINAL: &str = "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,\
                            p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=";
const SERVER_FINAL: &str = "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=";

fn keys() -> ScramKeys {
    let salt = BASE64.decode(SALT).unwrap();
    ScramKeys::derive(b"pencil", &salt, 4096)
}

fn server_first(client_first: &str) -> ServerFirst {
    let first = ClientFirst::parse(client_first.as_bytes()).unwrap();
    ServerFirst::new(first, keys(), SERVER_NONCE)
}

#[test]
fn rfc7677_test_vector() {
    let first = server_first(CLIENT_FIRST);
    assert_eq!(first.user(), "user");
    assert_eq!(first.message(), SERVER_FIRST.as_bytes());
    let client_final = first.parse_final(CLIENT_FINAL.as_bytes()).unwrap();
    assert!(first.verify(&client_final));
    assert_eq!(first.server_final(&client_final), SERVER_FINAL.as_bytes());
}

#[test]
fn stored_form_round_trips_and_is_postgresql_s() {
    let stored = keys().to_string();
    assert!(stored.starts_with("SCRAM-SHA-256$4096:W22ZaJ0SNY7soEsUEjb6gQ==$"));
    assert_eq!(ScramKeys::parse(&stored), Some(keys()));
    // The RFC 7677 vector's keys written out by hand in PostgreSQL's layout: the parse
    // takes the same fields `pg_authid.rolpassword` holds.
    let pg = "SCRAM-SHA-256$4096:W22ZaJ0SNY7soEsUEjb6gQ==$\
              WG5d8oPm3OtcPnkdi4Uo7BkeZkBFzpcXkuLmtbsT4qY=:\
              wfPLwcE6nTWhTAmQ7tl2KeoiWGPlZqQxSrmfPwDl2dU=";
    assert_eq!(ScramKeys::parse(pg), Some(keys()));
}

#[test]
fn stored_form_refuses_what_it_cannot_use() {
    let good = keys().to_string();
    for bad in [
        "",
        "SCRAM-SHA-1$4096:W22ZaJ0SNY7soEsUEjb6gQ==$a:b",
        &good.replace("$4096:", "$4095:"),
        &good.replace("$4096:", "$99999999999:"),
        &good.replace("$4096:", "$+4096:"),
        &good.replace("W22ZaJ0SNY7soEsUEjb6gQ==", "W22Z"),
        &good[..good.len() - 4],
        "SCRAM-SHA-256$4096:W22ZaJ0SNY7soEsUEjb6gQ==",
    ] {
        assert_eq!(ScramKeys::parse(bad), None, "{bad}");
    }
}

#[test]
fn wrong_proof_fails() {
    let first = server_first(CLIENT_FIRST);
    let mut proof = BASE64
        .decode("dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=")
        .unwrap();
    proof[7] ^= 1;
    let tampered = CLIENT_FINAL.replace(
        "dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=",
        &BASE64.encode(&proof),
    );
    let client_final = first.parse_final(tampered.as_bytes()).unwrap();
    assert!(!first.verify(&client_final));
}

#[test]
fn wrong_password_fails() {
    let salt = BASE64.decode(SALT).unwrap();
    let first = ClientFirst::parse(CLIENT_FIRST.as_bytes()).unwrap();
    let first = ServerFirst::new(
        first,
        ScramKeys::derive(b"pencil2", &salt, 4096),
        SERVER_NONCE,
    );
    let client_final = first.parse_final(CLIENT_FINAL.as_bytes()).unwrap();
    assert!(!first.verify(&client_final));
}

#[test]
fn fake_keys_are_stable_per_name_and_never_verify() {
    let secret = [7u8; 32];
    let a = ScramKeys::fake(&secret, "nobody", 4096);
    assert_eq!(a, ScramKeys::fake(&secret, "nobody", 4096));
    assert_ne!(a.salt, ScramKeys::fake(&secret, "somebody", 4096).salt);
    assert_ne!(a.salt, ScramKeys::fake(&[8u8; 32], "nobody", 4096).salt);
    let first = ServerFirst::new(
        ClientFirst::parse(CLIENT_FIRST.as_bytes()).unwrap(),
        a,
        SERVER_NONCE,
    );
    let client_final = first.parse_final(CLIENT_FINAL.as_bytes()).unwrap();
    assert!(!first.verify(&client_final));
}

#[test]
fn wrong_nonce_is_refused() {
    let first = server_first(CLIENT_FIRST);
    for nonce in [
        "rOprNGfwEbeRWgbNEkqO",
        "rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k1",
        "rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0x",
    ] {
        let tampered =
            CLIENT_FINAL.replace("rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0", nonce);
        assert_eq!(
            first.parse_final(tampered.as_bytes()).unwrap_err(),
            ScramError::NonceMismatch
        );
    }
}

#[test]
fn wrong_channel_binding_is_refused() {
    let first = server_first(CLIENT_FIRST);
    // `eSws` is `y,,`: the client-first said `n`.
    for cbind in ["eSws", "cD10bHMtdW5pcXVlLCw=", "biwsAA=="] {
        let tampered = CLIENT_FINAL.replace("c=biws", &format!("c={cbind}"));
        assert_eq!(
            first.parse_final(tampered.as_bytes()).unwrap_err(),
            ScramError::ChannelBindingMismatch,
            "{cbind}"
        );
    }
    // A client that supports binding but thinks the server does not (`y`): fine, since this
    // server never offers -PLUS, and `c=` must then be `y,,`.
    let first = server_first("y,,n=user,r=rOprNGfwEbeRWgbNEkqO");
    let final_y = CLIENT_FINAL.replace("c=biws", "c=eSws");
    assert!(first.parse_final(final_y.as_bytes()).is_ok());
    assert_eq!(
        first.parse_final(CLIENT_FINAL.as_bytes()).unwrap_err(),
        ScramError::ChannelBindingMismatch
    );
}

#[test]
fn client_first_refusals() {
    use ScramError::*;
    for (message, error) in [
        ("p=tls-exporter,,n=user,r=abc", ChannelBindingNotSupported),
        ("x,,n=user,r=abc", Malformed),
        ("n,,m=ext,n=user,r=abc", MandatoryExtension),
        ("n,,n=user,r=abc,m=ext", MandatoryExtension),
        ("n,a=other,n=user,r=abc", AuthzidMismatch),
        ("n,,n=,r=abc", Malformed),
        ("n,,n=us=2Xer,r=abc", Malformed),
        ("n,,n=user,r=", Malformed),
        ("n,,n=user,r=a b", Malformed),
        ("n,,n=user", Malformed),
        ("n,,r=abc,n=user", Malformed),
        ("n,,n=user\0,r=abc", Malformed),
        ("n,,n=user,r=abc,,", Malformed),
    ] {
        assert_eq!(
            ClientFirst::parse(message.as_bytes()).unwrap_err(),
            error,
            "{message}"
        );
    }
    let long = format!("n,,n=user,r={}", "a".repeat(MAX_SCRAM_MESSAGE));
    assert_eq!(ClientFirst::parse(long.as_bytes()).unwrap_err(), TooLong);
    assert_eq!(ClientFirst::parse(&[0xff, b',']).unwrap_err(), Malformed);
}

#[test]
fn names_are_unescaped_and_authzid_may_repeat_the_user() {
    let first = ClientFirst::parse(b"n,a=A=2Cb,n=a=2Cb,r=x").unwrap();
    assert_eq!(first.user(), "a,b");
    assert_eq!(first.gs2_header, "n,a=A=2Cb,");
    assert_eq!(ClientFirst::parse(b"n,,n=a=3Db,r=x").unwrap().user(), "a=b");
}

#[test]
fn client_final_refusals() {
    let first = server_first(CLIENT_FIRST);
    for message in [
        "",
        "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0",
        "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=AAAA",
        "c=bi!s,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=AAAA",
        "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=AAAA",
        "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=!!",
    ] {
        assert!(first.parse_final(message.as_bytes()).is_err(), "{message}");
    }
    let with_m = CLIENT_FINAL.replace(",p=", ",m=x,p=");
    assert_eq!(
        first.parse_final(with_m.as_bytes()).unwrap_err(),
        ScramError::MandatoryExtension
    );
}

/// Keys are derived from the SASLprep'd password (RFC 4013 §3's examples), as the clients
/// derive their proof; a password SASLprep refuses or that is not UTF-8 is used as it is.
#[test]
fn keys_are_derived_from_the_saslprepped_password() {
    for (typed, prepared) in [
        ("I\u{00AD}X", &b"IX"[..]),
        ("user", b"user"),
        ("\u{00AA}", b"a"),
        ("\u{2168}", b"IX"),
        ("a\u{00A0}b", b"a b"),
        // Prohibited (RFC 4013 §2.3): used as it is.
        ("a\u{0007}b", "a\u{0007}b".as_bytes()),
    ] {
        let keys = ScramKeys::generate(typed.as_bytes(), 4096).unwrap();
        let again = ScramKeys::derive(prepared, &keys.salt, 4096);
        assert_eq!(keys.stored_key, again.stored_key, "{typed:?}");
    }
    let raw = [0xff, 0xfe, b'x'];
    let keys = ScramKeys::generate(&raw, 4096).unwrap();
    assert_eq!(
        keys.stored_key,
        ScramKeys::derive(&raw, &keys.salt, 4096).stored_key
    );
}
