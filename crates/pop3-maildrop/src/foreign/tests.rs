//! The foreign parsers against files written exactly in the documented formats, and against
//! damaged ones.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;

use super::*;
use crate::error::Error;

/// Writes `text` as `name` in a temp dir (kept alive by the returned guard).
fn file(name: &str, text: &[u8]) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(name);
    std::fs::write(&path, text).unwrap();
    (dir, path)
}

/// `(file name, uidl)` pairs, in order.
fn pairs(uidls: &ForeignUidls) -> Vec<(String, String)> {
    uidls
        .entries
        .iter()
        .map(|e| {
            (
                String::from_utf8_lossy(&e.file_name).into_owned(),
                e.uidl.clone(),
            )
        })
        .collect()
}

fn check_dovecot(text: &str, format: &str, expected: &[(&str, &str)]) {
    let (_dir, path) = file("dovecot-uidlist", text.as_bytes());
    let uidls = dovecot_uidlist(&path, format).unwrap();
    let expected: Vec<(String, String)> = expected
        .iter()
        .map(|(f, u)| ((*f).to_owned(), (*u).to_owned()))
        .collect();
    assert_eq!(pairs(&uidls), expected, "{text}");
}

/// The error for a damaged file: its line and a piece of its reason.
fn check_dovecot_error(text: &[u8], line: usize, reason: &str) {
    let (_dir, path) = file("dovecot-uidlist", text);
    match dovecot_uidlist(&path, UidlFormat::DEFAULT) {
        Err(Error::Foreign {
            path: p,
            line: l,
            reason: r,
        }) => {
            assert_eq!((p, l), (path, line), "{r}");
            assert!(r.contains(reason), "{r:?} lacks {reason:?}");
        }
        other => panic!("{}: {other:?}", String::from_utf8_lossy(text)),
    }
}

const V3: &str = "3 V1275660208 N25022 G3085f01b7f11094c501100008c4a11c1\n\
    25006 :1276528487.M364837P9451.kurkku,S=1355,W=1394:2,\n\
    25017 W2481 :1276533073.M242911P3632.kurkku:2,F\n";

#[test]
fn dovecot_v3_default_format_is_lower_case_hex_uid_then_uidvalidity() {
    check_dovecot(
        V3,
        UidlFormat::DEFAULT,
        &[
            (
                "1276528487.M364837P9451.kurkku,S=1355,W=1394:2,",
                "000061ae4c0907b0",
            ),
            ("1276533073.M242911P3632.kurkku:2,F", "000061b94c0907b0"),
        ],
    );
}

#[test]
fn dovecot_header_fields_in_any_order_and_unknown_ones() {
    let text = "3 X-whatever G3085f01b7f11094c501100008c4a11c1 N9 V7 Zzz\n5 :a:2,\n";
    check_dovecot(text, "%u/%v", &[("a:2,", "5/7")]);
}

#[test]
fn dovecot_saved_p_field_wins_and_empty_p_is_the_name_before_info() {
    let text = "3 V100 N50\n\
        10 P+saved-by-pop3 W99 :1.M1P1.h,S=5,W=6:2,S\n\
        11 P :1.M2P2.h,S=7:2,\n\
        12 G0123abcd :1.M3P3.h:2,\n\
        13 Zextension lower-case :1.M4P4.h\n";
    check_dovecot(
        text,
        UidlFormat::DEFAULT,
        &[
            ("1.M1P1.h,S=5,W=6:2,S", "+saved-by-pop3"),
            ("1.M2P2.h,S=7:2,", "1.M2P2.h,S=7"),
            ("1.M3P3.h:2,", "0000000c00000064"),
            ("1.M4P4.h", "0000000d00000064"),
        ],
    );
    // %g: the G field, else the name up to `:`; %f: the name up to `:`.
    check_dovecot(
        text,
        "%g|%f",
        &[
            ("1.M1P1.h,S=5,W=6:2,S", "+saved-by-pop3"),
            ("1.M2P2.h,S=7:2,", "1.M2P2.h,S=7"),
            ("1.M3P3.h:2,", "0123abcd|1.M3P3.h"),
            ("1.M4P4.h", "1.M4P4.h|1.M4P4.h"),
        ],
    );
}

#[test]
fn dovecot_pop3_order_o_fields_first_then_uid_order() {
    let text = "3 V1 N9\n1 :a\n2 O2 :b\n3 :c\n4 O1 :d\n";
    check_dovecot(
        text,
        "%u",
        &[("d", "4"), ("b", "2"), ("a", "1"), ("c", "3")],
    );
}

/// Issue 16 review: Dovecot's POP3 order is `index_sort_get_pop3_order` (lib-storage
/// `index-sort.c`): the `O` value as a 64-bit number (`str_to_uoff`), and for a record
/// without one, or one that does not fit, `(uint32_t)-1`; ties in UID order. So an `O`
/// above 4294967295 comes after the records without one, and 4294967295 itself, or a
/// number too large for 64 bits, ties with them.
#[test]
fn dovecot_pop3_order_out_of_u32_range_as_dovecot_sorts_it() {
    let text = "3 V1 N9\n1 O4294967296 :a\n2 :b\n3 O5 :c\n4 O4294967295 :d\n\
                5 O99999999999999999999999 :e\n6 O18446744073709551615 :f\n";
    check_dovecot(
        text,
        "%u",
        &[
            ("c", "3"),
            ("b", "2"),
            ("d", "4"),
            ("e", "5"),
            ("a", "1"),
            ("f", "6"),
        ],
    );
}

#[test]
fn dovecot_version_1_and_its_checks() {
    let text = "1 1275660208 25022\n25006 1276528487.M364837P9451.kurkku,S=1355:2,S\n";
    check_dovecot(
        text,
        UidlFormat::DEFAULT,
        &[(
            "1276528487.M364837P9451.kurkku,S=1355:2,S",
            "000061ae4c0907b0",
        )],
    );
    check_dovecot_error(b"1 5 10\n10 a\n", 2, "not below the next UID");
    check_dovecot_error(b"1 5\n", 1, "version 1 header");
}

#[test]
fn dovecot_duplicate_file_name_the_later_record_wins() {
    let (_dir, path) = file("u", b"3 V1 N9\n1 :a:2,\n2 :b\n3 :a:2,S\n");
    let uidls = dovecot_uidlist(&path, "%u").unwrap();
    assert_eq!(
        pairs(&uidls),
        [("b".into(), "2".into()), ("a:2,S".into(), "3".into())]
    );
    assert_eq!(uidls.superseded, [2]);
}

#[test]
fn dovecot_damaged_files_are_errors_naming_the_line() {
    check_dovecot_error(b"", 0, "empty file");
    check_dovecot_error(b"3 V1 N9\n1 :a\n2 :b", 3, "truncated");
    check_dovecot_error(b"3 V1 N9\n1 :a\ngarbage here\n", 3, "not a record");
    check_dovecot_error(b"3 V1 N9\n2 :a\n1 :b\n", 3, "not ordered");
    check_dovecot_error(b"3 V1 N9\n0 :a\n", 2, "not a record");
    check_dovecot_error(b"3 V1 N9\n4294967295 :a\n", 2, "too high");
    check_dovecot_error(b"3 V1 N9\n1 :a/b\n", 2, "broken file name");
    check_dovecot_error(b"3 V1 N9\n1 W5\n", 2, "without a file name");
    check_dovecot_error(b"3 V1 N9\n1 Ox :a\n", 2, "POP3 order");
    check_dovecot_error(b"3 V0 N9\n", 1, "broken header");
    check_dovecot_error(b"3 N9\n", 1, "broken header");
    check_dovecot_error(b"3 V1 N9 Gxyz\n", 1, "GUID");
    check_dovecot_error(b"2 1 9\n", 1, "version 2");
    check_dovecot_error(b"4 V1 N9\n", 1, "unsupported version 4");
    check_dovecot_error(b"V1 N9\n", 1, "not a dovecot-uidlist header");
}

#[test]
fn uidl_formats_supported_as_dovecot_expands_them() {
    let text = "3 V3054 N99\n42 G-guid- :1.M1P1.host,S=5:2,\n";
    for (format, uidl) in [
        ("%u", "42"),
        ("%{uid}-%{uidvalidity}", "42-3054"),
        ("%Xu", "2a"),
        ("%XUu", "2A"),
        ("%08Xv", "00000bee"),
        ("%5u", "42"),
        ("%05u", "00042"),
        ("%3f", "1.M"),
        ("%Uf", "1.M1P1.HOST,S=5"),
        ("%{filename}", "1.M1P1.host,S=5"),
        ("%{guid}%%", "-guid-%"),
        ("UID%u-%v", "UID42-3054"),
    ] {
        check_dovecot(text, format, &[("1.M1P1.host,S=5:2,", uidl)]);
    }
}

#[test]
fn uidl_formats_refused_with_a_reason() {
    for (format, reason) in [
        ("%m", "header MD5"),
        ("%{md5}", "header MD5"),
        ("%{uid | hex(8)}", "2.4 filter syntax"),
        ("%3.5u", "offsets"),
        ("%-3u", "offsets"),
        ("%Eu", "modifier E"),
        ("%Mu", "modifier M"),
        ("%q", "unknown variable %q"),
        ("%{user}", "unknown variable %{user}"),
        ("%08X", "ends in the middle"),
    ] {
        match UidlFormat::parse(format) {
            Err(Error::UidlFormat {
                format: f,
                reason: r,
            }) => {
                assert_eq!(f, format);
                assert!(r.contains(reason), "{format}: {r:?} lacks {reason:?}");
            }
            other => panic!("{format}: {other:?}"),
        }
    }
}

fn check_courier(text: &str, expected: &[(&str, &str)]) {
    let (_dir, path) = file("courierpop3dsizelist", text.as_bytes());
    let uidls = courier_sizelist(&path).unwrap();
    let expected: Vec<(String, String)> = expected
        .iter()
        .map(|(f, u)| ((*f).to_owned(), (*u).to_owned()))
        .collect();
    assert_eq!(pairs(&uidls), expected, "{text}");
}

fn check_courier_error(text: &[u8], line: usize, reason: &str) {
    let (_dir, path) = file("courierpop3dsizelist", text);
    match courier_sizelist(&path) {
        Err(Error::Foreign {
            line: l, reason: r, ..
        }) => {
            assert_eq!(l, line, "{r}");
            assert!(r.contains(reason), "{r:?} lacks {reason:?}");
        }
        other => panic!("{}: {other:?}", String::from_utf8_lossy(text)),
    }
}

#[test]
fn courier_version_2_and_3_lines_in_courier_order() {
    check_courier(
        "/2 7 1234567890\n\
         1200000002.M2P2.host:2,S 100 5:1234567890\n\
         1200000001.M1P1.host,S=50:2, 50 4:1234567890\n",
        &[
            ("1200000001.M1P1.host,S=50:2,", "UID4-1234567890"),
            ("1200000002.M2P2.host:2,S", "UID5-1234567890"),
        ],
    );
    check_courier(
        "/3 9 1234567890\n\
         1200000001.M1P1.host:2,S 100 6:1234567890:0\n\
         1200000003.name with spaces:2, 10 8:0:1\n\
         1200000004.sp ace:2, 10 0:0:0\n\
         1200000002.M2P2.host:2, 10 0:1234567890:0\n",
        &[
            ("1200000001.M1P1.host:2,S", "UID6-1234567890"),
            ("1200000002.M2P2.host:2,", "1200000002.M2P2.host"),
            ("1200000003.name with spaces:2,", "UID8"),
            ("1200000004.sp ace:2,", "1200000004.sp+20ace"),
        ],
    );
    // The header's UID validity is optional (Courier makes one up for new messages).
    check_courier("/2 1\n", &[]);
}

#[test]
fn courier_damaged_files_are_errors_naming_the_line() {
    check_courier_error(b"", 0, "empty file");
    check_courier_error(b"/2 7 1\na 1 2:1\nb 1 3", 3, "truncated");
    check_courier_error(b"/2 7 1\ngarbage\n", 2, "not `<file>");
    check_courier_error(b"/2 7 1\na x 2:1\n", 2, "not `<file>");
    check_courier_error(b"/2 7 1\na 1 2\n", 2, "not `<file>");
    check_courier_error(b"/2 7 1\na 1 2:1:0:9\n", 2, "not `<file>");
    check_courier_error(b"/4 7 1\n", 1, "unsupported version 4");
    check_courier_error(b"/2 x\n", 1, "broken header");
    check_courier_error(b"a 100\n", 1, "file-name UIDLs");
}

#[test]
fn courier_file_names_escape_as_courier_did() {
    let dir = tempfile::tempdir().unwrap();
    for sub in ["cur", "new", "tmp"] {
        std::fs::create_dir(dir.path().join(sub)).unwrap();
    }
    let odd = b"1200000002.a+b\"c'd\xe9:2,S";
    std::fs::write(
        dir.path()
            .join("cur")
            .join(std::ffi::OsStr::from_bytes(odd)),
        "x",
    )
    .unwrap();
    std::fs::write(dir.path().join("new/1200000001.M1P1.host"), "x").unwrap();
    std::fs::write(dir.path().join("cur/.hidden"), "x").unwrap();
    let uidls = courier_filenames(dir.path()).unwrap();
    assert_eq!(
        uidls
            .entries
            .iter()
            .map(|e| e.uidl.as_str())
            .collect::<Vec<_>>(),
        ["1200000001.M1P1.host", "1200000002.a+2Bb+22c+27d+E9"]
    );
}

use std::os::unix::ffi::OsStrExt;
