//! Dovecot's `pop3_uidl_format`, as Dovecot 2.3's `var_expand` reads it:
//! `%[0][width][modifiers]<variable>`, with the variables Dovecot's POP3 server offers.
//!
//! Supported, exactly as Dovecot expands them:
//! - variables `%u` / `%{uid}` (the IMAP UID), `%v` / `%{uidvalidity}`, `%f` / `%{filename}`
//!   (the file name up to `:`), `%g` / `%{guid}` (the record's `G` field, else the file name
//!   up to `:`), and `%%`;
//! - modifiers `X` (decimal to **lower-case** hex, as Dovecot's `%llx`), `U` and `L` (upper
//!   and lower case), applied in order;
//! - a width: with a leading `0`, zero padding without truncation (`%08Xu`); without it,
//!   truncation to that many characters.
//!
//! Refused with a reason: `%m` (the header MD5: Dovecot's Maildir storage has none; with
//! Maildir, Dovecot itself failed every UIDL command with it), offsets (`%3.5u`, `%-3u`),
//! the other modifiers, unknown variables (Dovecot printed nothing for them; a UIDL built
//! from nothing would not be the one clients saw), and Dovecot 2.4's `%{uid | hex(8)}`
//! filter syntax (its default is the 2.3 default, `%08Xu%08Xv`).

use crate::error::{Error, Result};

/// A parsed `pop3_uidl_format`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UidlFormat {
    pieces: Vec<Piece>,
}

/// What one message offers the format.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Values<'a> {
    pub(crate) uid: u32,
    pub(crate) uid_validity: u32,
    /// The file name up to `:` (Dovecot's storage ID).
    pub(crate) filename: &'a str,
    /// The `G` field, else the file name up to `:`.
    pub(crate) guid: &'a str,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Piece {
    Literal(String),
    Var {
        var: Var,
        modifiers: Vec<Modifier>,
        zero_pad: bool,
        width: usize,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Var {
    Uid,
    UidValidity,
    Filename,
    Guid,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Modifier {
    Hex,
    Upper,
    Lower,
}

impl UidlFormat {
    /// Dovecot's default, `%08Xu%08Xv`.
    pub const DEFAULT: &'static str = "%08Xu%08Xv";

    /// Parses a format; an unsupported one is an [`Error::UidlFormat`] saying why.
    pub fn parse(format: &str) -> Result<UidlFormat> {
        let fail = |reason: String| Error::UidlFormat {
            format: format.to_owned(),
            reason,
        };
        let mut pieces = Vec::new();
        let mut literal = String::new();
        let mut chars = format.chars().peekable();
        while let Some(c) = chars.next() {
            if c != '%' {
                literal.push(c);
                continue;
            }
            if chars.peek() == Some(&'%') {
                chars.next();
                literal.push('%');
                continue;
            }
            let zero_pad = chars.next_if_eq(&'0').is_some();
            let mut width = 0usize;
            while let Some(digit) = chars.next_if(char::is_ascii_digit) {
                width = width
                    .saturating_mul(10)
                    .saturating_add(digit as usize - '0' as usize);
            }
            if matches!(chars.peek(), Some('.' | '-')) {
                return Err(fail("offsets (%N.M, %-N) are not supported".into()));
            }
            let mut modifiers = Vec::new();
            while let Some(&m) = chars.peek() {
                let modifier = match m {
                    'X' => Modifier::Hex,
                    'U' => Modifier::Upper,
                    'L' => Modifier::Lower,
                    'E' | 'R' | 'H' | 'N' | 'M' | 'D' | 'T' => {
                        return Err(fail(format!("modifier {m} is not supported")));
                    }
                    _ => break,
                };
                modifiers.push(modifier);
                chars.next();
            }
            let var = match chars.next() {
                Some('u') => Var::Uid,
                Some('v') => Var::UidValidity,
                Some('f') => Var::Filename,
                Some('g') => Var::Guid,
                Some('m') => return Err(fail(MD5.into())),
                Some('{') => {
                    let name: String = chars.by_ref().take_while(|&c| c != '}').collect();
                    match name.as_str() {
                        "uid" => Var::Uid,
                        "uidvalidity" => Var::UidValidity,
                        "filename" => Var::Filename,
                        "guid" => Var::Guid,
                        "md5" => return Err(fail(MD5.into())),
                        other if other.contains('|') => {
                            return Err(fail(format!(
                                "%{{{other}}} is Dovecot 2.4 filter syntax; give the 2.3 \
                                 form (2.4's default is 2.3's {})",
                                Self::DEFAULT
                            )));
                        }
                        other => return Err(fail(format!("unknown variable %{{{other}}}"))),
                    }
                }
                Some(other) => return Err(fail(format!("unknown variable %{other}"))),
                None => return Err(fail("ends in the middle of a variable".into())),
            };
            if !literal.is_empty() {
                pieces.push(Piece::Literal(std::mem::take(&mut literal)));
            }
            pieces.push(Piece::Var {
                var,
                modifiers,
                zero_pad,
                width,
            });
        }
        if !literal.is_empty() {
            pieces.push(Piece::Literal(literal));
        }
        Ok(UidlFormat { pieces })
    }

    /// Whether the format uses the UID validity (`%v`), which a version-1 uidlist header has
    /// too; kept for callers that want to warn when it changed.
    pub fn uses_uid_validity(&self) -> bool {
        self.pieces
            .iter()
            .any(|p| matches!(p, Piece::Var { var, .. } if *var == Var::UidValidity))
    }

    /// The UIDL of one message.
    pub(crate) fn expand(&self, values: Values<'_>) -> String {
        let mut out = String::new();
        for piece in &self.pieces {
            match piece {
                Piece::Literal(text) => out.push_str(text),
                Piece::Var {
                    var,
                    modifiers,
                    zero_pad,
                    width,
                } => {
                    let mut value = match var {
                        Var::Uid => values.uid.to_string(),
                        Var::UidValidity => values.uid_validity.to_string(),
                        Var::Filename => values.filename.to_owned(),
                        Var::Guid => values.guid.to_owned(),
                    };
                    for modifier in modifiers {
                        value = match modifier {
                            // Dovecot: a value that is not a number is 0.
                            Modifier::Hex => format!("{:x}", value.parse::<u64>().unwrap_or(0)),
                            Modifier::Upper => value.to_ascii_uppercase(),
                            Modifier::Lower => value.to_ascii_lowercase(),
                        };
                    }
                    let len = value.chars().count();
                    if *width == 0 {
                        out.push_str(&value);
                    } else if *zero_pad {
                        out.extend(std::iter::repeat_n('0', width.saturating_sub(len)));
                        out.push_str(&value);
                    } else {
                        out.extend(value.chars().take(*width));
                    }
                }
            }
        }
        out
    }
}

const MD5: &str = "%m (the header MD5) is not supported: Dovecot's Maildir storage keeps none, \
                   so Dovecot never served it from a Maildir";
