//! Mail locations as Dovecot's `mail_location` writes them: `[maildir:]PATH[:KEY=VALUE...]`,
//! with `%u` (the whole name), `%n` and `%d` (local part and domain), `%h` (home) and `%%`,
//! the long forms `%{user}`, `%{username}`, `%{domain}`, `%{home}`, the `L`/`U` case
//! modifiers, and a leading `~` for the home directory. `::` in the path is a literal colon.
//! Of the options only `CONTROL=` matters here: Dovecot keeps `dovecot-uidlist` there.

use std::path::PathBuf;

/// A parsed mail location, not yet expanded for a user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MailLocation {
    path: String,
    control: Option<String>,
}

/// A mail location expanded for one user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Expanded {
    /// The Maildir.
    pub maildir: PathBuf,
    /// Where Dovecot keeps its control files (`dovecot-uidlist`): `CONTROL=`, else the Maildir.
    pub control: PathBuf,
}

impl MailLocation {
    /// Parses a template; only Maildir locations are accepted.
    pub fn parse(template: &str) -> Result<MailLocation, String> {
        let rest = match template.split_once(':') {
            Some((format, rest))
                if !format.is_empty() && format.bytes().all(|b| b.is_ascii_alphanumeric()) =>
            {
                if !format.eq_ignore_ascii_case("maildir") {
                    return Err(format!(
                        "mail location {template:?} is {format}, not maildir: pop3d serves \
                         Maildirs only"
                    ));
                }
                rest
            }
            _ => template,
        };
        let mut parts = split_unescaped(rest).into_iter();
        let path = parts.next().unwrap_or_default();
        if path.is_empty() {
            return Err(format!("mail location {template:?} has no path"));
        }
        let mut control = None;
        for option in parts {
            if let Some(value) = option
                .split_once('=')
                .filter(|(key, _)| key.eq_ignore_ascii_case("CONTROL"))
                .map(|(_, value)| value)
            {
                control = Some(value.to_owned());
            }
        }
        Ok(MailLocation { path, control })
    }

    /// Expands the template for `user` with home directory `home` (empty: none).
    pub fn expand(&self, user: &str, home: &str) -> Result<Expanded, String> {
        let maildir = expand_path(&self.path, user, home)?;
        let control = match &self.control {
            Some(control) => expand_path(control, user, home)?,
            None => maildir.clone(),
        };
        Ok(Expanded { maildir, control })
    }
}

/// Splits at single colons; `::` is a literal colon.
fn split_unescaped(text: &str) -> Vec<String> {
    let mut parts = Vec::new();
    let mut current = String::new();
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            ':' if chars.peek() == Some(&':') => {
                chars.next();
                current.push(':');
            }
            ':' => parts.push(std::mem::take(&mut current)),
            c => current.push(c),
        }
    }
    parts.push(current);
    parts
}

fn expand_path(template: &str, user: &str, home: &str) -> Result<PathBuf, String> {
    let need_home = || {
        if home.is_empty() {
            Err(format!(
                "{template:?} needs the home directory, and it has none"
            ))
        } else {
            Ok(home.trim_end_matches('/').to_owned())
        }
    };
    let mut out = String::new();
    let mut rest = template;
    if rest == "~" || rest.starts_with("~/") {
        out.push_str(&need_home()?);
        rest = &rest[1..];
    }
    let (local, domain) = user.split_once('@').unwrap_or((user, ""));
    let mut chars = rest.chars();
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        let mut case = None;
        let key = loop {
            match chars.next() {
                Some(m @ ('L' | 'U')) => case = Some(m),
                Some('{') => {
                    let name: String = chars.by_ref().take_while(|&c| c != '}').collect();
                    break name;
                }
                Some(k) => break k.to_string(),
                None => return Err(format!("{template:?} ends in the middle of a variable")),
            }
        };
        let value = match key.as_str() {
            "%" => "%".to_owned(),
            "u" | "user" => user.to_owned(),
            "n" | "username" => local.to_owned(),
            "d" | "domain" => domain.to_owned(),
            "h" | "home" => need_home()?,
            other => {
                return Err(format!(
                    "{template:?}: variable %{other} is not supported here (use %u, %n, %d, \
                     %h or ~)"
                ));
            }
        };
        match case {
            Some('L') => out.push_str(&value.to_lowercase()),
            Some(_) => out.push_str(&value.to_uppercase()),
            None => out.push_str(&value),
        }
    }
    let path = PathBuf::from(out);
    if !path.is_absolute() {
        return Err(format!(
            "{template:?} gives {}, which is not an absolute path",
            path.display()
        ));
    }
    Ok(path)
}
