//! `pop3d.toml(5)`, generated from the commented example configuration, so that the manual
//! and `config/pop3d.example.toml` cannot disagree.
//!
//! How the example reads, and what becomes of it:
//! - the comments before the first section: DESCRIPTION;
//! - a section header (`[auth]`, `[[listener]]`, or commented out: `# [privileges]`): a `.SS`
//!   under SECTIONS, with the comments just above it as its introduction; a section written
//!   twice (a second `[[listener]]`) is documented once;
//! - a key (`name = value`, or commented out: `# name = value`): a `.TP` item tagged with the
//!   key and the value the example gives it (the default, as its header says), with the
//!   comments above it as its text; keys written one after another share that text (`.TQ`);
//! - a comment line indented past `#` plus one space: kept as written (`.nf`), for the tables
//!   of values and the command examples.
//!
//! Nothing here knows the sections by name: a new section in the example is a new `.SS`.

/// The manual page, in roff, for the example `source` of pop3d `version`, dated `date`.
pub(crate) fn render(source: &str, version: &str, date: &str) -> String {
    let doc = parse(source);
    let mut out = String::new();
    out.push_str(&format!(
        ".TH POP3D.TOML 5 \"{}\" \"pop3d {}\" \"File Formats\"\n",
        escape(date),
        escape(version)
    ));
    out.push_str(".SH NAME\npop3d.toml \\- configuration file of pop3d\n");
    out.push_str(".SH SYNOPSIS\n/etc/pop3d/pop3d.toml\n");
    out.push_str(".SH DESCRIPTION\n");
    out.push_str(
        "The configuration of \\fBpop3d\\fR(8), also read by \\fBpop3\\-admin\\fR(8), in \
         TOML.\nThis page is generated from the commented example configuration.\n.PP\n",
    );
    push_text(&mut out, &doc.preamble, false);
    out.push_str(".SH SECTIONS\n");
    for section in &doc.sections {
        out.push_str(&format!(".SS \"{}\"\n", escape(&section.header)));
        if section.commented {
            out.push_str("(Commented out in the example.)\n.PP\n");
        }
        push_text(&mut out, &section.intro, false);
        for group in &section.groups {
            for (i, key) in group.keys.iter().enumerate() {
                out.push_str(if i == 0 { ".TP\n" } else { ".TQ\n" });
                out.push_str(&format!(
                    "\\fB{}\\fR = \\fI{}\\fR{}\n",
                    escape(&key.name),
                    escape(&key.value),
                    if key.commented {
                        " (commented out)"
                    } else {
                        ""
                    }
                ));
            }
            push_text(&mut out, &group.text, true);
        }
    }
    out.push_str(".SH FILES\n.TP\n/etc/pop3d/pop3d.toml\nThe configuration.\n");
    out.push_str(".SH SEE ALSO\n\\fBpop3d\\fR(8), \\fBpop3\\-admin\\fR(8)\n");
    out
}

/// The example as sections of documented keys.
#[derive(Debug, Default)]
struct Doc {
    preamble: Vec<String>,
    sections: Vec<Section>,
}

#[derive(Debug)]
struct Section {
    /// As written: `[auth]` or `[[listener]]`.
    header: String,
    /// Only in a comment (`# [privileges]`).
    commented: bool,
    intro: Vec<String>,
    groups: Vec<Group>,
}

/// Keys written one after another, and the comment lines above them.
#[derive(Debug, Default)]
struct Group {
    keys: Vec<Key>,
    text: Vec<String>,
}

#[derive(Debug)]
struct Key {
    name: String,
    value: String,
    commented: bool,
}

/// One line of the example.
enum Line<'a> {
    Blank,
    Text(&'a str),
    Header(&'a str, bool),
    Key(&'a str, &'a str, bool),
}

fn classify(line: &str) -> Line<'_> {
    let trimmed = line.trim_end();
    if trimmed.trim().is_empty() {
        return Line::Blank;
    }
    let (body, commented) = match trimmed.strip_prefix('#') {
        Some(rest) => (rest.strip_prefix(' ').unwrap_or(rest), true),
        None => (trimmed, false),
    };
    if body.starts_with('[') && body.ends_with(']') && is_header(body) {
        return Line::Header(body, commented);
    }
    if let Some((name, value)) = body.split_once(" = ")
        && !name.is_empty()
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
    {
        return Line::Key(name, value.trim(), commented);
    }
    if commented {
        Line::Text(body)
    } else {
        // Not TOML this reader knows (an inline table, a multi-line array): shown as written.
        Line::Text(trimmed)
    }
}

/// `[name]` or `[[name]]` with a bare TOML key (dotted allowed) inside.
fn is_header(body: &str) -> bool {
    let inner = body.trim_start_matches('[').trim_end_matches(']');
    !inner.is_empty()
        && inner
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-' || b == b'.')
}

fn parse(source: &str) -> Doc {
    let mut doc = Doc::default();
    // Comment lines not yet given to a section or a key.
    let mut pending: Vec<String> = Vec::new();
    // The section keys go to now (an index into doc.sections), and whether the last line
    // was a key, so that the next key joins its group.
    let mut current: Option<usize> = None;
    let mut after_key = false;
    for line in source.lines() {
        match classify(line) {
            Line::Blank => {
                after_key = false;
                if pending.last().is_some_and(|l| !l.is_empty()) {
                    pending.push(String::new());
                }
            }
            Line::Text(text) => {
                after_key = false;
                pending.push(text.to_owned());
            }
            Line::Header(header, commented) => {
                after_key = false;
                // The paragraph right above a header introduces it; any before that close
                // the previous section (or, above the first, describe the whole file).
                let (earlier, intro) = split_last_paragraph(std::mem::take(&mut pending));
                match current {
                    Some(index) => doc.sections[index].intro.extend(earlier),
                    None => doc.preamble = earlier,
                }
                current = Some(find_or_add(&mut doc, header, commented, intro));
            }
            Line::Key(name, value, commented) => {
                let index = match current {
                    Some(index) => index,
                    None => {
                        // Keys before any section: the top-level table.
                        let index = find_or_add(&mut doc, "(top level)", false, Vec::new());
                        current = Some(index);
                        index
                    }
                };
                let section = &mut doc.sections[index];
                let text = trim_blank(std::mem::take(&mut pending));
                if section
                    .groups
                    .iter()
                    .any(|g| g.keys.iter().any(|k| k.name == name))
                {
                    // A key of a section written again: documented the first time.
                    after_key = false;
                    continue;
                }
                let key = Key {
                    name: name.to_owned(),
                    value: value.to_owned(),
                    commented,
                };
                match section.groups.last_mut() {
                    Some(group) if after_key && text.is_empty() => group.keys.push(key),
                    _ => section.groups.push(Group {
                        keys: vec![key],
                        text,
                    }),
                }
                after_key = true;
            }
        }
    }
    let pending = trim_blank(pending);
    match current {
        // Trailing comments: the last section's.
        Some(index) => doc.sections[index].intro.extend(pending),
        None => doc.preamble = pending,
    }
    doc
}

/// Splits comment lines at their last blank line: what comes before it, and the last
/// paragraph.
fn split_last_paragraph(lines: Vec<String>) -> (Vec<String>, Vec<String>) {
    let mut lines = trim_blank(lines);
    match lines.iter().rposition(String::is_empty) {
        Some(at) => {
            let last = lines.split_off(at + 1);
            (trim_blank(lines), last)
        }
        None => (Vec::new(), lines),
    }
}

/// Without blank lines at either end.
fn trim_blank(mut lines: Vec<String>) -> Vec<String> {
    while lines.last().is_some_and(String::is_empty) {
        lines.pop();
    }
    let first = lines
        .iter()
        .position(|l| !l.is_empty())
        .unwrap_or(lines.len());
    lines.split_off(first)
}

fn find_or_add(doc: &mut Doc, header: &str, commented: bool, intro: Vec<String>) -> usize {
    if let Some(index) = doc.sections.iter().position(|s| s.header == header) {
        doc.sections[index].intro.extend(intro);
        return index;
    }
    doc.sections.push(Section {
        header: header.to_owned(),
        commented,
        intro,
        groups: Vec::new(),
    });
    doc.sections.len() - 1
}

/// Comment lines as roff: prose is filled, blank lines are paragraph breaks, and lines
/// indented past the comment's own space are kept as written. In an item's text (`in_item`)
/// a paragraph is an `.IP` and a kept block is indented to the item's text, not the section's.
fn push_text(out: &mut String, lines: &[String], in_item: bool) {
    let (open, paragraph) = if in_item {
        (".RS\n.nf\n", ".IP\n")
    } else {
        (".RS 2\n.nf\n", ".PP\n")
    };
    let mut verbatim = false;
    for line in lines {
        let indented = line.starts_with("  ");
        if indented && !verbatim {
            out.push_str(open);
        } else if !indented && verbatim {
            out.push_str(".fi\n.RE\n");
            if in_item && !line.is_empty() {
                // Back to the item's indentation.
                out.push_str(paragraph);
            }
        }
        verbatim = indented;
        if line.is_empty() {
            out.push_str(paragraph);
        } else if verbatim && in_item {
            out.push_str(&escape(line));
            out.push('\n');
        } else if verbatim {
            out.push_str(&escape(line.trim_start()));
            out.push('\n');
        } else {
            out.push_str(&escape(line));
            out.push('\n');
        }
    }
    if verbatim {
        out.push_str(".fi\n.RE\n");
    }
}

/// Text safe in roff: backslashes and minus signs escaped, characters past ASCII written as
/// groff's `\[uXXXX]` (the page is read as Latin-1, where UTF-8 bytes such as those of `×`
/// are invalid), and a line never starts a request.
fn escape(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '\\' => escaped.push_str("\\e"),
            '-' => escaped.push_str("\\-"),
            c if c.is_ascii() => escaped.push(c),
            c => escaped.push_str(&format!("\\[u{:04X}]", u32::from(c))),
        }
    }
    if escaped.starts_with(['.', '\'']) {
        format!("\\&{escaped}")
    } else {
        escaped
    }
}

#[cfg(test)]
mod tests;
