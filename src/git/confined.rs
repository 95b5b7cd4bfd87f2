//! Reading a work-tree file without leaving the work tree.
//!
//! The path is checked ([`super::path::check`]), then opened one segment at
//! a time from the root with `openat(O_NOFOLLOW)`: a symbolic link anywhere
//! on the way (even one swapped in after the snapshot was listed) fails the
//! open instead of being followed. The file is opened non-blocking (a FIFO
//! cannot hang the reader), its type and size are checked on the open
//! descriptor (regular files only, at most `max_bytes`), and no more than
//! `max_bytes` are ever read.

use std::io::Read;
use std::path::Path;

use super::path::{self, UnsafePath};

/// Why a work-tree file was not read.
#[derive(Debug, thiserror::Error)]
pub enum ConfinedReadError {
    #[error("{path}: {rule}")]
    Unsafe { path: String, rule: UnsafePath },
    #[error("{path}: a symbolic link is on the way (links are never followed)")]
    Symlink { path: String },
    #[error("{path}: not a regular file")]
    NotRegular { path: String },
    #[error("{path}: larger than {max} bytes")]
    TooLarge { path: String, max: u64 },
    #[error("{path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
}

/// Reads `rel` under `root`: see the module docs for the rules.
pub fn read(root: &Path, rel: &str, max_bytes: u64) -> Result<Vec<u8>, ConfinedReadError> {
    path::check(rel).map_err(|rule| ConfinedReadError::Unsafe {
        path: rel.to_string(),
        rule,
    })?;
    let file = open(root, rel)?;
    let io = |source| ConfinedReadError::Io {
        path: rel.to_string(),
        source,
    };
    let meta = file.metadata().map_err(io)?;
    if !meta.is_file() {
        return Err(ConfinedReadError::NotRegular {
            path: rel.to_string(),
        });
    }
    if meta.len() > max_bytes {
        return Err(ConfinedReadError::TooLarge {
            path: rel.to_string(),
            max: max_bytes,
        });
    }
    let mut bytes = Vec::with_capacity(meta.len() as usize);
    file.take(max_bytes.saturating_add(1))
        .read_to_end(&mut bytes)
        .map_err(io)?;
    if bytes.len() as u64 > max_bytes {
        // It grew while being read.
        return Err(ConfinedReadError::TooLarge {
            path: rel.to_string(),
            max: max_bytes,
        });
    }
    Ok(bytes)
}

#[cfg(unix)]
fn open(root: &Path, rel: &str) -> Result<std::fs::File, ConfinedReadError> {
    use std::ffi::CString;
    use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
    use std::os::unix::fs::OpenOptionsExt;

    let io = |source: std::io::Error| {
        if source.raw_os_error() == Some(libc::ELOOP) {
            ConfinedReadError::Symlink {
                path: rel.to_string(),
            }
        } else if source.raw_os_error() == Some(libc::ENOTDIR) {
            ConfinedReadError::NotRegular {
                path: rel.to_string(),
            }
        } else {
            ConfinedReadError::Io {
                path: rel.to_string(),
                source,
            }
        }
    };
    // The root itself is the user's choice and may be reached through links.
    let mut dir: OwnedFd = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_DIRECTORY | libc::O_CLOEXEC)
        .open(root)
        .map_err(io)?
        .into();
    let segments: Vec<&str> = rel.split('/').collect();
    let (last, dirs) = segments.split_last().expect("a checked path has a segment");
    let open_at = |dir: &OwnedFd, name: &str, flags: libc::c_int| -> std::io::Result<OwnedFd> {
        let name = CString::new(name).map_err(std::io::Error::other)?;
        // SAFETY: `dir` is an open descriptor and `name` a NUL-terminated
        // string that outlives the call; the returned descriptor is owned
        // by the `OwnedFd` made from it and by nothing else.
        let fd = unsafe { libc::openat(dir.as_raw_fd(), name.as_ptr(), flags) };
        if fd < 0 {
            Err(std::io::Error::last_os_error())
        } else {
            // SAFETY: `fd` was just returned by openat and is not shared.
            Ok(unsafe { OwnedFd::from_raw_fd(fd) })
        }
    };
    for (i, segment) in dirs.iter().enumerate() {
        dir = open_at(
            &dir,
            segment,
            libc::O_RDONLY | libc::O_DIRECTORY | libc::O_NOFOLLOW | libc::O_CLOEXEC,
        )
        .map_err(|e| {
            // Linux says ENOTDIR for a link opened with O_DIRECTORY |
            // O_NOFOLLOW; name the link for what it is.
            let prefix = root.join(dirs[..=i].join("/"));
            let is_link =
                std::fs::symlink_metadata(prefix).is_ok_and(|m| m.file_type().is_symlink());
            if is_link {
                ConfinedReadError::Symlink {
                    path: rel.to_string(),
                }
            } else {
                io(e)
            }
        })?;
    }
    let fd = open_at(
        &dir,
        last,
        libc::O_RDONLY | libc::O_NOFOLLOW | libc::O_NONBLOCK | libc::O_NOCTTY | libc::O_CLOEXEC,
    )
    .map_err(io)?;
    Ok(std::fs::File::from(fd))
}

#[cfg(not(unix))]
fn open(root: &Path, rel: &str) -> Result<std::fs::File, ConfinedReadError> {
    let mut cur = root.to_path_buf();
    for segment in rel.split('/') {
        cur.push(segment);
        let meta = std::fs::symlink_metadata(&cur).map_err(|source| ConfinedReadError::Io {
            path: rel.to_string(),
            source,
        })?;
        if meta.file_type().is_symlink() {
            return Err(ConfinedReadError::Symlink {
                path: rel.to_string(),
            });
        }
    }
    std::fs::File::open(&cur).map_err(|source| ConfinedReadError::Io {
        path: rel.to_string(),
        source,
    })
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;

    fn tree() -> tempfile::TempDir {
        let dir = tempfile::tempdir().expect("temp dir");
        let root = dir.path();
        std::fs::create_dir_all(root.join("src")).expect("mkdir");
        std::fs::write(root.join("src/a.rs"), "fn a() {}\n").expect("write");
        std::fs::write(root.join("big.txt"), vec![b'x'; 100]).expect("write");
        std::os::unix::fs::symlink("/etc/passwd", root.join("passwd")).expect("link");
        std::os::unix::fs::symlink("/etc", root.join("etc")).expect("link");
        std::os::unix::fs::symlink("/dev/zero", root.join("zero")).expect("link");
        let fifo = std::ffi::CString::new(root.join("fifo").to_str().expect("utf-8")).expect("c");
        // SAFETY: a valid NUL-terminated path.
        assert_eq!(unsafe { libc::mkfifo(fifo.as_ptr(), 0o600) }, 0);
        dir
    }

    #[test]
    fn reads_a_regular_file() {
        let t = tree();
        assert_eq!(
            read(t.path(), "src/a.rs", 1000).expect("read"),
            b"fn a() {}\n"
        );
    }

    #[test]
    fn refuses_links_devices_fifos_escapes_and_large_files() {
        let t = tree();
        let r = |p: &str| read(t.path(), p, 50);
        assert!(
            matches!(r("passwd"), Err(ConfinedReadError::Symlink { .. })),
            "{:?}",
            r("passwd")
        );
        assert!(matches!(
            r("etc/passwd"),
            Err(ConfinedReadError::Symlink { .. })
        ));
        assert!(matches!(r("zero"), Err(ConfinedReadError::Symlink { .. })));
        assert!(matches!(
            r("fifo"),
            Err(ConfinedReadError::NotRegular { .. })
        ));
        assert!(matches!(
            r("src"),
            Err(ConfinedReadError::NotRegular { .. })
        ));
        assert!(matches!(
            r("big.txt"),
            Err(ConfinedReadError::TooLarge { .. })
        ));
        assert!(matches!(
            r("../etc/passwd"),
            Err(ConfinedReadError::Unsafe { .. })
        ));
        assert!(matches!(
            r("/etc/passwd"),
            Err(ConfinedReadError::Unsafe { .. })
        ));
        assert!(matches!(
            r("src/a.rs/x"),
            Err(ConfinedReadError::NotRegular { .. })
        ));
    }
}
