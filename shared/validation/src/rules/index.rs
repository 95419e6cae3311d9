//! The duplicate indexes: keyed fingerprints of normalized keys, and where each key was
//! first seen.

use std::collections::HashMap;
use std::hash::{BuildHasher, RandomState};

use super::{Validator, clip};

/// Keyed 128-bit fingerprints of index keys: no allocation per key, and with per-process
/// random keys two different keys collide with probability ~2^-128.
#[derive(Default)]
pub(super) struct Keys(RandomState, RandomState);

impl Keys {
    pub(super) fn of(&self, text: &str) -> u128 {
        (u128::from(self.0.hash_one(text)) << 64) | u128::from(self.1.hash_one(text))
    }
}

/// The fingerprints are uniformly random already: hashing them again is wasted work.
#[derive(Default)]
pub(super) struct PassThrough(u64);

impl std::hash::Hasher for PassThrough {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(*b);
        }
    }

    fn write_u128(&mut self, v: u128) {
        self.0 = v as u64;
    }
}

pub(super) type Fingerprints<V> = HashMap<u128, V, std::hash::BuildHasherDefault<PassThrough>>;

/// Where a key was first seen: the item (position in `ids`) and its line.
pub(super) type Seen = Fingerprints<(u32, usize)>;

/// Appends `s` lower-cased, punctuation dropped, whitespace collapsed: "Café  Latte!" and
/// "café latte" give the same text.
pub(super) fn normalize_into(s: &str, out: &mut String) {
    let start = out.len();
    let mut pending_space = false;
    for c in s.chars() {
        if c.is_alphanumeric() {
            if pending_space && out.len() > start {
                out.push(' ');
            }
            pending_space = false;
            out.extend(c.to_lowercase());
        } else {
            pending_space = true;
        }
    }
}

impl Validator {
    /// Fingerprint of a key built in the reusable scratch buffer.
    pub(super) fn key(&mut self, build: impl FnOnce(&mut String)) -> u128 {
        let mut scratch = std::mem::take(&mut self.scratch);
        scratch.clear();
        build(&mut scratch);
        let k = self.keys.of(&scratch);
        self.scratch = scratch;
        k
    }

    /// Records `key` for `index`; returns the first item and line when it was seen before.
    pub(super) fn seen(map: &mut Seen, key: u128, index: u32, line: usize) -> Option<(u32, usize)> {
        match map.entry(key) {
            std::collections::hash_map::Entry::Occupied(first) => Some(*first.get()),
            std::collections::hash_map::Entry::Vacant(slot) => {
                slot.insert((index, line));
                None
            }
        }
    }

    pub(super) fn id_of(&self, index: u32) -> String {
        self.ids
            .get(index as usize)
            .map_or_else(String::new, |s| clip(s))
    }
}
