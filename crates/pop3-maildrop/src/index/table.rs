//! [`SizeIndex`]: sizes by base name, every name in one buffer.
//!
//! Why not a `HashMap<Vec<u8>, Sizes>`: a rescan after new mail looks up every message of the
//! maildrop, and with 100,000 entries the map's cost was its layout, not its algorithm: one
//! allocation per name to build and to free, and a pointer to follow (a cache miss) for each
//! key compared (issue 14: index load, lookups and the final free were half of a rescan).
//! Here the names sit end to end in one buffer, the table holds 4-byte slot numbers, and the
//! hash of a name is computed once by the caller and reused for every table it goes in.

use hashbrown::{DefaultHashBuilder, HashTable};

use super::Sizes;

/// The hasher of base names: foldhash, hashbrown's default (word at a time; the names come
/// from our own directory and index, chosen by delivery agents, not by senders).
#[derive(Clone, Default)]
pub(crate) struct NameHasher(DefaultHashBuilder);

impl NameHasher {
    /// The hash of a base name, for [`SizeIndex::get_hashed`] and the scan's other tables.
    pub(crate) fn hash(&self, name: &[u8]) -> u64 {
        use std::hash::BuildHasher as _;
        self.0.hash_one(name)
    }
}

/// Sizes by base name. A later insert for a name replaces the earlier one.
#[derive(Clone, Default)]
pub(crate) struct SizeIndex {
    names: Vec<u8>,
    slots: Vec<Slot>,
    table: HashTable<u32>,
    hasher: NameHasher,
    live: usize,
}

#[derive(Clone, Copy)]
struct Slot {
    start: u32,
    len: u32,
    sizes: Sizes,
    /// False once removed (the slot stays, so slot numbers in the table stay valid).
    live: bool,
    /// Looked up or inserted since the index was loaded.
    used: bool,
}

impl SizeIndex {
    /// An empty index sized for `entries` names of about `name_bytes` bytes in all.
    pub(crate) fn with_capacity(entries: usize, name_bytes: usize) -> SizeIndex {
        SizeIndex {
            names: Vec::with_capacity(name_bytes),
            slots: Vec::with_capacity(entries),
            table: HashTable::with_capacity(entries),
            ..SizeIndex::default()
        }
    }

    /// The hasher this index uses: hashes from it may be given to [`SizeIndex::get_hashed`].
    pub(crate) fn hasher(&self) -> &NameHasher {
        &self.hasher
    }

    /// How many names it holds.
    pub(crate) fn len(&self) -> usize {
        self.live
    }

    /// Whether it holds no name.
    pub(crate) fn is_empty(&self) -> bool {
        self.live == 0
    }

    /// The sizes of `name`.
    pub(crate) fn get(&self, name: &[u8]) -> Option<Sizes> {
        let hash = self.hasher.hash(name);
        self.find(name, hash).map(|slot| self.slots[slot].sizes)
    }

    /// The sizes of `name`, whose hash by [`SizeIndex::hasher`] is `hash`; marks the entry
    /// used (see [`SizeIndex::retain_used`]).
    pub(crate) fn get_hashed(&mut self, name: &[u8], hash: u64) -> Option<Sizes> {
        let slot = self.find(name, hash)?;
        self.slots[slot].used = true;
        Some(self.slots[slot].sizes)
    }

    /// Sets the sizes of `name` (marked used). Names longer than 4 GiB or an index past
    /// 4 GiB of names are not kept (no Maildir name comes near either).
    pub(crate) fn insert(&mut self, name: &[u8], sizes: Sizes) {
        self.insert_as(name, sizes, true);
    }

    /// Sets the sizes of `name` as read from the file: not marked used.
    pub(super) fn insert_loaded(&mut self, name: &[u8], sizes: Sizes) {
        self.insert_as(name, sizes, false);
    }

    fn insert_as(&mut self, name: &[u8], sizes: Sizes, used: bool) {
        let hash = self.hasher.hash(name);
        if let Some(slot) = self.find(name, hash) {
            self.slots[slot].sizes = sizes;
            self.slots[slot].used |= used;
            return;
        }
        let (Ok(start), Ok(len), Ok(number)) = (
            u32::try_from(self.names.len()),
            u32::try_from(name.len()),
            u32::try_from(self.slots.len()),
        ) else {
            return;
        };
        self.names.extend_from_slice(name);
        self.slots.push(Slot {
            start,
            len,
            sizes,
            live: true,
            used,
        });
        let (names, slots, hasher) = (&self.names, &self.slots, &self.hasher);
        self.table.insert_unique(hash, number, |&n| {
            hasher.hash(name_of(names, &slots[n as usize]))
        });
        self.live += 1;
    }

    /// Removes `name`, returning its sizes.
    pub(crate) fn remove(&mut self, name: &[u8]) -> Option<Sizes> {
        let hash = self.hasher.hash(name);
        let (names, slots) = (&self.names, &self.slots);
        let entry = self
            .table
            .find_entry(hash, |&n| name_of(names, &slots[n as usize]) == name)
            .ok()?;
        let (n, _) = entry.remove();
        let slot = &mut self.slots[n as usize];
        slot.live = false;
        self.live -= 1;
        Some(slot.sizes)
    }

    /// Keeps only the entries looked up with [`SizeIndex::get_hashed`] or inserted since
    /// the index was loaded; returns whether any went.
    pub(crate) fn retain_used(&mut self) -> bool {
        let before = self.live;
        let (slots, live) = (&mut self.slots, &mut self.live);
        self.table.retain(|n| {
            let slot = &mut slots[*n as usize];
            if !slot.used {
                slot.live = false;
                *live -= 1;
            }
            slot.used
        });
        self.live < before
    }

    /// The entries, in no particular order.
    pub(crate) fn iter(&self) -> impl Iterator<Item = (&[u8], Sizes)> {
        self.slots
            .iter()
            .filter(|slot| slot.live)
            .map(|slot| (name_of(&self.names, slot), slot.sizes))
    }

    fn find(&self, name: &[u8], hash: u64) -> Option<usize> {
        let (names, slots) = (&self.names, &self.slots);
        self.table
            .find(hash, |&n| name_of(names, &slots[n as usize]) == name)
            .map(|&n| n as usize)
    }
}

/// The name of a slot. Slots are made by [`SizeIndex::insert`] from the bytes it appended,
/// so the range is in bounds.
fn name_of<'a>(names: &'a [u8], slot: &Slot) -> &'a [u8] {
    let start = slot.start as usize;
    &names[start..start + slot.len as usize]
}

impl PartialEq for SizeIndex {
    /// The same names with the same sizes.
    fn eq(&self, other: &SizeIndex) -> bool {
        self.len() == other.len()
            && self
                .iter()
                .all(|(name, sizes)| other.get(name) == Some(sizes))
    }
}

impl std::fmt::Debug for SizeIndex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_map()
            .entries(
                self.iter()
                    .map(|(name, sizes)| (String::from_utf8_lossy(name), sizes)),
            )
            .finish()
    }
}
