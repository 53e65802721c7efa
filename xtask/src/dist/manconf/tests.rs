use super::render;

const EXAMPLE: &str = include_str!("../../../../config/pop3d.example.toml");

/// Every key and every section of the real example is in the page, each once.
#[test]
fn every_key_and_section_of_the_example_is_documented() {
    let page = render(EXAMPLE, "0.0.0", "2026-11-30");
    for line in EXAMPLE.lines() {
        let body = line.trim_start_matches(['#', ' ']);
        if let Some((name, _)) = body.split_once(" = ")
            && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
        {
            let tag = format!("\\fB{}\\fR = ", name.replace('-', "\\-"));
            assert!(page.contains(&tag), "key {name} missing from the page");
        }
        if body.starts_with('[') && body.ends_with(']') {
            let heading = format!(".SS \"{body}\"\n");
            assert_eq!(page.matches(&heading).count(), 1, "section {body}");
        }
    }
    assert!(page.starts_with(".TH POP3D.TOML 5 \"2026\\-11\\-30\" \"pop3d 0.0.0\" "));
}

/// A section the example gains later (the `[lmtp]` to come) becomes a section of the page,
/// with its introduction, its keys and their text, without a change here.
#[test]
fn a_new_section_needs_no_change() {
    let source = "# The file.\n\n# Delivery over LMTP.\n[lmtp]\n# Where to listen.\n\
                  address = \"/run/pop3d/lmtp.sock\"\nenabled = false\n\n[log]\nlevel = \"info\"\n";
    let page = render(source, "1.2.3", "2026-11-30");
    let lmtp = page
        .find(".SS \"[lmtp]\"\nDelivery over LMTP.\n")
        .expect("section");
    let log = page.find(".SS \"[log]\"").expect("next section");
    let address = page
        .find(".TP\n\\fBaddress\\fR = \\fI\"/run/pop3d/lmtp.sock\"\\fR\n.TQ\n\\fBenabled\\fR")
        .expect("keys sharing their text");
    assert!(lmtp < address && address < log);
    assert!(page.contains("Where to listen.\n"));
    assert!(page.contains(".SH DESCRIPTION\n") && page.contains("The file.\n"));
}

/// Commented-out sections and keys, tables kept as written, a section written twice, and
/// text that would be a roff request or escape.
#[test]
fn commented_keys_tables_repeats_and_escapes() {
    let source = "# Check with:\n#   pop3d check-config\n[[listener]]\naddress = \"a\"\n\n[[listener]]\naddress = \"b\"\n\n\
                  [auth]\n# Modes:\n#   \"never\"  only over TLS\n# .dot and back\\slash\n\
                  mode = \"never\"\n\n# Run as:\n# [privileges]\n# user = \"pop3d\"\n";
    let page = render(source, "0.0.0", "2026-11-30");
    assert_eq!(page.matches(".SS \"[[listener]]\"").count(), 1);
    assert!(page.contains("\\fI\"a\"\\fR") && !page.contains("\\fI\"b\"\\fR"));
    // In an item's text: indented to the text, and the prose after it too.
    assert!(page.contains(".RS\n.nf\n  \"never\"  only over TLS\n.fi\n.RE\n.IP\n\\&.dot"));
    assert!(page.contains("\\&.dot and back\\eslash\n"));
    // In a section's introduction: a little in from the text.
    assert!(page.contains(".RS 2\n.nf\npop3d check\\-config\n.fi\n.RE\n"));
    assert!(page.contains(".SS \"[privileges]\"\n(Commented out in the example.)\n.PP\nRun as:\n"));
    assert!(page.contains("\\fBuser\\fR = \\fI\"pop3d\"\\fR (commented out)\n"));
}

/// Characters past ASCII reach groff as `\[uXXXX]` (read as Latin-1, the UTF-8 bytes of `×`
/// are invalid input), so the page renders without warnings whatever the example says.
#[test]
fn non_ascii_text_is_written_as_groff_escapes() {
    let source = "# A 20,000 × 10 bound, RFC 2449 §6.7 — see there.\n[admin]\nkey = 1\n";
    let page = render(source, "0.0.0", "2026-11-30");
    assert!(page.contains("20,000 \\[u00D7] 10"), "{page}");
    assert!(page.contains("\\[u00A7]6.7 \\[u2014] see"), "{page}");
    assert!(page.is_ascii(), "{page}");
}
