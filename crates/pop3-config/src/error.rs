//! Errors that name the file, the key and the line, and the helpers that make them.

use std::ops::Range;

use serde::de::DeserializeOwned;
use toml::Spanned;

/// A configuration error, with the key and line it concerns.
#[derive(Debug, thiserror::Error)]
#[error("{file}: {message}")]
pub struct ConfigError {
    file: String,
    message: String,
}

impl ConfigError {
    /// The file could not be read.
    pub(crate) fn unreadable(file: &str, error: &std::io::Error) -> ConfigError {
        ConfigError {
            file: file.to_owned(),
            message: format!("cannot read: {error}"),
        }
    }
}

/// A validation failure: the message names the key; the span, if known, gives the line.
pub(crate) type Invalid = (String, Option<Range<usize>>);

/// The failure of `key`, whose value is `value`, for the reason `why`.
pub(crate) fn invalid<T>(key: &str, value: &Spanned<T>, why: &str) -> Invalid {
    (format!("`{key}`: {why}"), Some(value.span()))
}

/// Reads `text` as the raw sections `T`, then validates them with `validate`; errors of either
/// stage name `file` and the line.
pub(crate) fn parse_and_validate<T: DeserializeOwned, V>(
    text: &str,
    file: &str,
    validate: impl FnOnce(T) -> Result<V, Invalid>,
) -> Result<V, ConfigError> {
    let raw: T = toml::from_str(text).map_err(|e| ConfigError {
        file: file.to_owned(),
        message: match e.span() {
            Some(span) => match key_at(text, &span) {
                Some(key) => format!("line {}: `{key}`: {}", line_of(text, &span), e.message()),
                None => format!("line {}: {}", line_of(text, &span), e.message()),
            },
            None => e.message().to_owned(),
        },
    })?;
    validate(raw).map_err(|(message, span)| ConfigError {
        file: file.to_owned(),
        message: match span {
            Some(span) => format!("line {}: {message}", line_of(text, &span)),
            None => message,
        },
    })
}

/// The key written on the line of `span`, when it is a `key = value` line (a type error of
/// the TOML reader names the line only).
fn key_at<'t>(text: &'t str, span: &Range<usize>) -> Option<&'t str> {
    let start = span.start.min(text.len());
    let line_start = text[..start].rfind('\n').map_or(0, |i| i + 1);
    let line = text[line_start..].lines().next()?;
    let key = line.split_once('=')?.0.trim();
    let bare = |c: char| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.');
    (!key.is_empty() && key.chars().all(bare)).then_some(key)
}

fn line_of(text: &str, span: &Range<usize>) -> usize {
    text[..span.start.min(text.len())].lines().count().max(1)
        + usize::from(text[..span.start.min(text.len())].ends_with('\n'))
}
