//! The paths one tree changes against another, as libgit2's
//! `diff_tree_to_tree` reports them for history mining (no rename
//! detection, submodule updates ignored), without reading what did not
//! change: a subtree whose id is the same on both sides is skipped whole.
//!
//! libgit2's tree diff walks both trees entry by entry and descends into
//! every subtree, equal or not, so its cost grows with the size of the
//! tree; this walk's cost grows with what changed (the subtrees on the
//! paths to the changed entries). The result is the same, delta for delta
//! and in the same order, which `tests/tree_diff.rs` checks against
//! libgit2 over every first-parent commit of the fixture repositories:
//!
//! - a path only in the new tree is `A`, only in the old tree `D`
//!   (gitlinks included: libgit2 ignores a submodule's *update*, not its
//!   addition or removal);
//! - a path in both with a different id or mode is `M`, except a gitlink
//!   (an updated submodule: nothing) and a change of the kind of entry
//!   (file, symbolic link, gitlink), which is `D` then `A`, as libgit2
//!   reports it without `INCLUDE_TYPECHANGE`;
//! - a file replaced by a directory of the same name is `D` of the file
//!   and `A` of each file below, in git's path order.
//!
//! Paths are yielded as bytes, in git's order (full paths compared byte by
//! byte); checking them is the caller's business. The walk keeps its own
//! stack, never the Rust stack, whatever the depth of the trees.

use git2::{Oid, Repository, Tree};

/// `mode & S_IFMT` of a tree entry (git stores modes in octal).
const TYPE_MASK: i32 = 0o170000;
const TYPE_TREE: i32 = 0o040000;
const TYPE_GITLINK: i32 = 0o160000;

/// One level of the walk: the two trees at `path[..prefix]` (either may
/// be absent: a directory added or deleted whole) and the next entry of
/// each.
struct Frame<'r> {
    old: Option<Tree<'r>>,
    new: Option<Tree<'r>>,
    i: usize,
    j: usize,
    prefix: usize,
}

/// What is known of one entry while its frame is borrowed.
#[derive(Clone, Copy)]
struct Item {
    id: Oid,
    mode: i32,
}

impl Item {
    fn is_tree(self) -> bool {
        self.mode & TYPE_MASK == TYPE_TREE
    }
}

/// Calls `emit(path, status)` for each path `new` changes against `old`
/// (`None` is the empty tree), status `A`, `M` or `D`.
pub fn diff_trees(
    repo: &Repository,
    old: Option<&Tree<'_>>,
    new: Option<&Tree<'_>>,
    mut emit: impl FnMut(&[u8], char),
) -> Result<(), git2::Error> {
    let mut stack = vec![Frame {
        old: old.map(|t| t.to_owned()),
        new: new.map(|t| t.to_owned()),
        i: 0,
        j: 0,
        prefix: 0,
    }];
    let mut path: Vec<u8> = Vec::with_capacity(256);
    while let Some(top) = stack.last_mut() {
        path.truncate(top.prefix);
        // Which side's entry comes first in git's order, with its name
        // appended to `path`; both when they name the same entry.
        let (old_item, new_item) = {
            let a = top.old.as_ref().and_then(|t| t.get(top.i));
            let b = top.new.as_ref().and_then(|t| t.get(top.j));
            match (&a, &b) {
                (None, None) => (None, None),
                (Some(a), None) => {
                    path.extend_from_slice(a.name_bytes());
                    (Some(item(a)), None)
                }
                (None, Some(b)) => {
                    path.extend_from_slice(b.name_bytes());
                    (None, Some(item(b)))
                }
                (Some(a), Some(b)) => {
                    let (ia, ib) = (item(a), item(b));
                    match entry_order(a.name_bytes(), ia.is_tree(), b.name_bytes(), ib.is_tree()) {
                        std::cmp::Ordering::Less => {
                            path.extend_from_slice(a.name_bytes());
                            (Some(ia), None)
                        }
                        std::cmp::Ordering::Greater => {
                            path.extend_from_slice(b.name_bytes());
                            (None, Some(ib))
                        }
                        std::cmp::Ordering::Equal => {
                            path.extend_from_slice(a.name_bytes());
                            (Some(ia), Some(ib))
                        }
                    }
                }
            }
        };
        if old_item.is_none() && new_item.is_none() {
            stack.pop();
            continue;
        }
        if old_item.is_some() {
            top.i += 1;
        }
        if new_item.is_some() {
            top.j += 1;
        }
        match (old_item, new_item) {
            (Some(o), Some(n)) if o.is_tree() => {
                // Both trees (same name, same kind): the point of the walk.
                if o.id != n.id {
                    let old = repo.find_tree(o.id)?;
                    let new = repo.find_tree(n.id)?;
                    push(&mut stack, &mut path, Some(old), Some(new));
                }
            }
            (Some(o), Some(n)) => leaf_pair(&path, o, n, &mut emit),
            (Some(o), None) if o.is_tree() => {
                let old = repo.find_tree(o.id)?;
                push(&mut stack, &mut path, Some(old), None);
            }
            (Some(_), None) => emit(&path, 'D'),
            (None, Some(n)) if n.is_tree() => {
                let new = repo.find_tree(n.id)?;
                push(&mut stack, &mut path, None, Some(new));
            }
            (None, Some(_)) => emit(&path, 'A'),
            (None, None) => {}
        }
    }
    Ok(())
}

fn item(e: &git2::TreeEntry<'_>) -> Item {
    Item {
        id: e.id(),
        mode: e.filemode_raw(),
    }
}

/// Enters a directory: its entries are walked next, under `path/`.
fn push<'r>(
    stack: &mut Vec<Frame<'r>>,
    path: &mut Vec<u8>,
    old: Option<Tree<'r>>,
    new: Option<Tree<'r>>,
) {
    path.push(b'/');
    stack.push(Frame {
        old,
        new,
        i: 0,
        j: 0,
        prefix: path.len(),
    });
}

/// A file, link or gitlink present on both sides under one name.
fn leaf_pair(path: &[u8], o: Item, n: Item, emit: &mut impl FnMut(&[u8], char)) {
    if o.mode & TYPE_MASK != n.mode & TYPE_MASK {
        emit(path, 'D');
        emit(path, 'A');
    } else if o.id == n.id && o.mode == n.mode {
        // Unchanged.
    } else if n.mode & TYPE_MASK == TYPE_GITLINK {
        // A submodule moved to another commit: ignored.
    } else {
        emit(path, 'M');
    }
}

/// Git's order of tree entries: names compared byte by byte, a directory's
/// name as if it ended in `/` (so `a.txt` < `a/` < `a0`). A file and a
/// directory of the same name are two entries, the file first.
fn entry_order(a: &[u8], a_tree: bool, b: &[u8], b_tree: bool) -> std::cmp::Ordering {
    let n = a.len().min(b.len());
    match a[..n].cmp(&b[..n]) {
        std::cmp::Ordering::Equal => {}
        other => return other,
    }
    let next = |name: &[u8], tree: bool| match name.get(n) {
        Some(c) => *c,
        None if tree => b'/',
        None => 0,
    };
    next(a, a_tree).cmp(&next(b, b_tree))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cmp::Ordering::*;

    #[test]
    fn entries_sort_as_git_sorts_them() {
        assert_eq!(entry_order(b"a.txt", false, b"a", true), Less);
        assert_eq!(entry_order(b"a", true, b"a0", false), Less);
        assert_eq!(entry_order(b"a", false, b"a", true), Less);
        assert_eq!(entry_order(b"a", true, b"a", true), Equal);
        assert_eq!(entry_order(b"a-b", false, b"a", true), Less);
        assert_eq!(entry_order(b"b", false, b"a", true), Greater);
    }
}
