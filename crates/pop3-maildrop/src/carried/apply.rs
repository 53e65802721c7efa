//! The map applied to an open maildrop: carried-over UIDLs and order at the open, entries
//! dropped at the commit.
//!
//! **UIDLs stay unique in a session.** Carried UIDLs are unique among themselves (the map is
//! checked on load) and native ones too (the scan gives the later of two files with one base
//! name a digest). When a carried UIDL equals the native UIDL of another message (mail
//! delivered after the switch under a name that happens to be an old UIDL), **the carried
//! one wins** — it is never replaced — and the other message gets a digest of its unique part
//! (salted, so it differs from a digest the scan gives), deterministic and kept across
//! renames, counted in [`ScanReport::uidl_collisions`].

use std::collections::{HashMap, HashSet};
use std::hash::BuildHasherDefault;
use std::path::Path;

use super::{EntryRef, MapEntry, UidlMapPolicy, parse, read, store};
use crate::error::{Error, Result};
use crate::index::Fnv;
use crate::maildir::Maildir;
use crate::message::Message;
use crate::name::digest_uid;
use crate::scan::ScanReport;

/// What an open maildrop keeps of its map, to rewrite it at a commit: messages `0..ranks.len()`
/// are the carried ones, in the old server's order, with their ranks.
#[derive(Debug)]
pub(crate) struct Carried {
    ranks: Vec<u64>,
    /// Entries matching no listed message: stale (their file is gone), or a message the scan
    /// left out (unreadable), which must keep its entry.
    stale: Vec<MapEntry>,
    /// Whether the stale entries may belong to messages the scan left out.
    keep_stale: bool,
}

/// Loads the map as `policy` says and applies it to the scanned `messages`: carried messages
/// get their UIDL and come first, in the old server's order; the others follow in pop3d's
/// order. `None` when there is no map (and the policy allows that).
pub(crate) fn load_and_apply(
    maildir: &Maildir,
    policy: UidlMapPolicy,
    messages: &mut Vec<Message>,
    report: &mut ScanReport,
) -> Result<Option<Carried>> {
    let bytes = match (read(maildir)?, policy) {
        (Some(bytes), _) => bytes,
        (None, UidlMapPolicy::IfPresent) => return Ok(None),
        (None, UidlMapPolicy::Required) => {
            return Err(Error::UidlMap {
                path: maildir.path().join(super::UIDL_MAP_FILE),
                reason: "missing, but the user database says this maildrop has carried-over \
                         UIDLs (repair it with `pop3-admin uidl repair`)"
                    .into(),
            });
        }
    };
    let entries = parse(maildir, &bytes)?;
    Ok(Some(apply(&entries, messages, report)))
}

type FnvMap<K, V> = HashMap<K, V, BuildHasherDefault<Fnv>>;
type FnvSet<T> = HashSet<T, BuildHasherDefault<Fnv>>;

fn apply(
    entries: &[EntryRef<'_>],
    messages: &mut Vec<Message>,
    report: &mut ScanReport,
) -> Carried {
    let mut by_base: FnvMap<&[u8], usize> =
        FnvMap::with_capacity_and_hasher(entries.len(), Default::default());
    by_base.extend(entries.iter().enumerate().map(|(i, e)| (&*e.base, i)));
    // Message index → entry index, for the first message of each base (a later file with the
    // same base already has a digest UIDL from the scan).
    let mut matched: Vec<Option<usize>> = vec![None; messages.len()];
    let mut used = vec![false; entries.len()];
    for (i, message) in messages.iter().enumerate() {
        if let Some(&e) = by_base.get(message.base())
            && !used[e]
        {
            used[e] = true;
            matched[i] = Some(e);
        }
    }
    drop(by_base);
    let mut carried_uidls: FnvSet<&str> =
        FnvSet::with_capacity_and_hasher(entries.len(), Default::default());
    carried_uidls.extend(matched.iter().flatten().map(|&e| entries[e].uidl));
    // Native messages whose UIDL a carried one takes (rare): they get a digest instead.
    let colliding: Vec<usize> = (0..messages.len())
        .filter(|&i| matched[i].is_none() && carried_uidls.contains(messages[i].uid()))
        .collect();
    if !colliding.is_empty() {
        let mut taken: HashSet<String> = messages.iter().map(|m| m.uid().to_owned()).collect();
        taken.extend(carried_uidls.iter().map(|u| (*u).to_owned()));
        for &i in &colliding {
            let uid = unique_digest(messages[i].base(), &taken);
            taken.insert(uid.clone());
            messages[i].set_digest_uid(uid.into_boxed_str());
        }
        report.uidl_collisions = colliding.len();
    }
    drop(carried_uidls);
    for (message, m) in messages.iter_mut().zip(&matched) {
        if let Some(e) = m {
            message.set_digest_uid(entries[*e].uidl.into());
        }
    }
    // Carried first, by rank; then the others as the scan ordered them.
    let mut carried: Vec<(u64, usize)> = matched
        .iter()
        .enumerate()
        .filter_map(|(i, m)| m.map(|e| (entries[e].rank, i)))
        .collect();
    carried.sort_unstable();
    if carried.iter().enumerate().any(|(at, &(_, i))| at != i) {
        let mut slots: Vec<Option<Message>> =
            std::mem::take(messages).into_iter().map(Some).collect();
        let mut ordered = Vec::with_capacity(slots.len());
        ordered.extend(carried.iter().filter_map(|&(_, i)| slots[i].take()));
        ordered.extend(slots.into_iter().flatten());
        *messages = ordered;
    }
    let stale: Vec<MapEntry> = entries
        .iter()
        .zip(used)
        .filter(|(_, used)| !used)
        .map(|(entry, _)| entry.to_owned())
        .collect();
    report.carried = carried.len();
    report.stale_carried = stale.len();
    Carried {
        ranks: carried.into_iter().map(|(rank, _)| rank).collect(),
        stale,
        keep_stale: !report.unreadable.is_empty(),
    }
}

/// A digest of a message's unique part, salted (and counted up, should a crafted carried
/// UIDL equal it) until no UIDL in `taken` equals it.
fn unique_digest(base: &[u8], taken: &HashSet<String>) -> String {
    let mut counter = 0u32;
    loop {
        let mut salted = format!("pop3d-uidl-collision\0{counter}\0").into_bytes();
        salted.extend_from_slice(base);
        let uid = digest_uid(&salted);
        if !taken.contains(&uid) {
            return uid;
        }
        counter += 1;
    }
}

impl Carried {
    /// After a commit unlinked the messages at `gone` (indices; removed or already gone):
    /// rewrites the map without their entries, and without stale ones unless a left-out
    /// message may own them. Nothing is written when nothing changes. `Ok(true)`: written.
    pub(crate) fn after_commit(
        &self,
        path: &Path,
        messages: &[Message],
        gone: &HashSet<usize>,
    ) -> Result<bool> {
        let removed = gone.iter().any(|&i| i < self.ranks.len());
        let drop_stale = !self.keep_stale && !self.stale.is_empty();
        if !removed && !drop_stale {
            return Ok(false);
        }
        let mut entries: Vec<MapEntry> = self
            .ranks
            .iter()
            .enumerate()
            .filter(|(i, _)| !gone.contains(i))
            .filter_map(|(i, &rank)| {
                let message = messages.get(i)?;
                Some(MapEntry {
                    base: message.base().to_vec(),
                    rank,
                    uidl: message.uid().to_owned(),
                })
            })
            .collect();
        if self.keep_stale {
            entries.extend(self.stale.iter().cloned());
        }
        let maildir = Maildir::open(path)?;
        store(&maildir, &entries)?;
        Ok(true)
    }
}
