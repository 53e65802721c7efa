//! Which file system a Maildir is on, for the one thing that depends on it: **whether
//! directory times can be trusted**. The persistent listing ([`crate::LISTING_FILE`]) is used
//! only while `cur/`'s modification and change times are those it was written under; on a
//! network or cluster file system a client's attribute cache can show a stamp that another
//! machine's rename or unlink has already changed, so the listing would serve messages that
//! are gone, or miss new ones. There the listing is off ([`ListingCache::Auto`]) and every
//! login scans `cur/`; the size index stays (it is keyed by file names, which never change
//! meaning in a Maildir).

use std::os::fd::AsFd;

/// Whether to keep the persistent listing.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ListingCache {
    /// On, unless the Maildir is on a network or cluster file system ([`network_filesystem`]).
    #[default]
    Auto,
    /// On whatever the file system (an admin who knows its directory times are coherent).
    On,
    /// Off: every login scans `cur/`.
    Off,
}

/// `f_type` values (`statfs(2)`, `linux/magic.h`) of file systems whose directory times a
/// client may see late: network and cluster file systems, and FUSE (sshfs, GlusterFS, s3fs
/// and others are FUSE; a local FUSE file system only costs a scan per login).
const NETWORK: &[(u64, &str)] = &[
    (0x6969, "NFS"),
    (0x517b, "SMB"),
    (0xff53_4d42, "CIFS"),
    (0xfe53_4d42, "SMB2"),
    (0x00c3_6400, "CephFS"),
    (0x6573_5546, "FUSE"),
    (0x0116_1970, "GFS2"),
    (0x7461_636f, "OCFS2"),
    (0x5346_414f, "AFS"),
    (0x6b41_4653, "kAFS"),
    (0x0bd0_0bd0, "Lustre"),
    (0x4750_4653, "GPFS"),
    (0x0102_1997, "9P"),
    (0x6a65_6a63, "virtiofs"),
];

/// The name of the network or cluster file system `f_type` stands for, if it is one.
pub fn network_kind(f_type: u64) -> Option<&'static str> {
    NETWORK
        .iter()
        .find(|(magic, _)| *magic == f_type)
        .map(|(_, name)| *name)
}

/// The name of the network or cluster file system `dir` is on, if it is on one; `None` for a
/// local file system, or when `fstatfs` fails (then nothing is assumed to be remote).
pub fn network_filesystem(dir: impl AsFd) -> Option<&'static str> {
    let stat = rustix::fs::fstatfs(dir).ok()?;
    // `f_type` is a signed type on some targets; the magic numbers are 32-bit.
    #[allow(clippy::cast_sign_loss, clippy::cast_possible_truncation)]
    let f_type = u64::from(stat.f_type as u32);
    network_kind(f_type)
}

impl ListingCache {
    /// Whether the listing may be used for a Maildir whose `cur/` is `dir`; the file system's
    /// name when it is off because of it.
    pub(crate) fn decide(self, dir: impl AsFd) -> Result<(), Option<&'static str>> {
        match self {
            ListingCache::On => Ok(()),
            ListingCache::Off => Err(None),
            ListingCache::Auto => match network_filesystem(dir) {
                Some(kind) => Err(Some(kind)),
                None => Ok(()),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn network_file_systems_by_magic() {
        assert_eq!(network_kind(0x6969), Some("NFS"));
        assert_eq!(network_kind(0xff53_4d42), Some("CIFS"));
        assert_eq!(network_kind(0x00c3_6400), Some("CephFS"));
        assert_eq!(network_kind(0x6573_5546), Some("FUSE"));
        // ext4, XFS, btrfs, tmpfs: local.
        for local in [0xef53, 0x5846_5342, 0x9123_683e, 0x0102_1994] {
            assert_eq!(network_kind(local), None, "{local:#x}");
        }
    }

    #[test]
    fn a_local_directory_keeps_the_listing_unless_told_otherwise() {
        let dir = tempfile::tempdir().unwrap();
        let fd = std::fs::File::open(dir.path()).unwrap();
        if let Some(kind) = network_filesystem(&fd) {
            eprintln!("!!! SKIPPED a_local_directory_keeps_the_listing: the temp dir is on {kind}");
            return;
        }
        assert_eq!(ListingCache::Auto.decide(&fd), Ok(()));
        assert_eq!(ListingCache::On.decide(&fd), Ok(()));
        assert_eq!(ListingCache::Off.decide(&fd), Err(None));
    }
}
