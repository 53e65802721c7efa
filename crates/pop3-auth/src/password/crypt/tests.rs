//! yescrypt's parameter field, decoded by hand against what libxcrypt writes.

use super::YescryptParams;

fn params(field: &str) -> Option<(u32, u32, u32, u32, u32)> {
    YescryptParams::decode(field).map(|p| (p.flavor, p.n_log2, p.r, p.p, p.t))
}

/// `mkpasswd -m yescrypt -R 5` (Debian's default) writes `j9T`: flavour 47 (RW with the
/// default flags), N = 2^12, r = 32; `-R 11` writes `jFT`: N = 2^18, 1 GiB; `-R 1`, `j75`.
#[test]
fn libxcrypt_fields() {
    assert_eq!(params("j9T"), Some((47, 12, 32, 1, 0)));
    assert_eq!(params("jFT"), Some((47, 18, 32, 1, 0)));
    assert_eq!(params("j75"), Some((47, 10, 8, 1, 0)));
    // 128·r·(N + p): 16 MiB of V and one 4 KiB block.
    let default = YescryptParams::decode("j9T").unwrap();
    assert_eq!(default.work(), Some((16 << 20) + 4096));
    assert_eq!(
        YescryptParams::decode("jFT").unwrap().work(),
        Some((1 << 30) + 4096)
    );
}

/// The read-write flavour splits V among the lanes; the scrypt-compatible ones (flavour 0,
/// 1) run every lane over all of it.
#[test]
fn work_by_flavour_lanes_and_time() {
    let work = |field: &str| YescryptParams::decode(field).unwrap().work().unwrap();
    // The reference's `TESTS-OK` vector: RW, N = 2^16, r = 8, p = 11.
    assert_eq!(work("jD5.7"), 1024 * ((1 << 16) + 11));
    // Classic scrypt flavour (0), same N, r and p: eleven passes.
    assert_eq!(work(".D5.7"), 1024 * (11 * (1 << 16) + 11));
    // t = 3 ('/' = have 2, '0' = 2 + 1): four passes.
    assert_eq!(work("j9T/0"), 4096 * (4 * (1 << 12) + 1));
}

/// The optional part: `have` (minimum 1) then p (minimum 2) and t (minimum 1).
#[test]
fn optional_fields() {
    // have = 1 ('.' = 0 + 1): p follows, '.' = 0 + 2.
    assert_eq!(params("j9T.."), Some((47, 12, 32, 2, 0)));
    // have = 2 ('/' = 1 + 1): t follows, '0' = 2 + 1.
    assert_eq!(params("j9T/0"), Some((47, 12, 32, 1, 3)));
    // have = 3: both.
    assert_eq!(params("j9T0./"), Some((47, 12, 32, 2, 2)));
}

/// A first digit above 47 announces more digits: 48 ('k') is the first two-digit value.
#[test]
fn multi_digit_numbers() {
    // r = 1 + 48 + 0 = 49.
    assert_eq!(params("j9k."), Some((47, 12, 49, 1, 0)));
    // r = 1 + 48 + 1 = 50.
    assert_eq!(params("j9k/"), Some((47, 12, 50, 1, 0)));
    // A digit missing after a prefix that announces one.
    assert_eq!(params("j9k"), None);
}

#[test]
fn malformed_fields() {
    for field in [
        "",
        "j",
        "j9",
        "j9T$",
        "j9T*",
        "j9T.",
        "j9T/",
        "j9T3",
        "j9T0.",
        "jzT",
        "j9T...",
        "zzzzzzzzzzzzzzzzzzzz",
        "j\u{e9}T",
    ] {
        assert_eq!(params(field), None, "{field:?}");
    }
    // N = 2^62 ('k' announces a second digit: 1 + 48 + 13) with r = 32: the work overflows
    // 64 bits and is refused, not wrapped.
    let huge = YescryptParams::decode("jkBT").unwrap();
    assert_eq!(huge.n_log2, 62);
    assert_eq!(huge.work(), None);
}
