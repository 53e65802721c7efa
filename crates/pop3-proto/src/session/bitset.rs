//! A fixed-size set of message indices, one bit each: a maildrop of 100,000 messages costs
//! 12.5 KiB per set.

/// A fixed-size set of message indices.
pub(super) struct BitSet {
    words: Vec<u64>,
}

impl BitSet {
    pub(super) fn new(len: usize) -> BitSet {
        BitSet {
            words: vec![0; len.div_ceil(64)],
        }
    }

    pub(super) fn contains(&self, index: usize) -> bool {
        self.words
            .get(index / 64)
            .is_some_and(|word| word & (1 << (index % 64)) != 0)
    }

    pub(super) fn insert(&mut self, index: usize) {
        if let Some(word) = self.words.get_mut(index / 64) {
            *word |= 1 << (index % 64);
        }
    }

    pub(super) fn clear(&mut self) {
        self.words.iter_mut().for_each(|word| *word = 0);
    }

    pub(super) fn members(&self) -> Vec<usize> {
        let mut members = Vec::new();
        for (w, &word) in self.words.iter().enumerate() {
            let mut bits = word;
            while bits != 0 {
                members.push(w * 64 + bits.trailing_zeros() as usize);
                bits &= bits - 1;
            }
        }
        members
    }
}
