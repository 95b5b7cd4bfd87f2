//! cl100k's pre-tokenizer without a regex engine: the same pieces as the
//! pattern tiktoken-rs splits text with, found by a hand-written scan.
//!
//! The pattern (tiktoken-rs's cl100k_base, with possessive quantifiers):
//!
//! ```text
//! '(?i:[sdmt]|ll|ve|re) | [^\r\n\p{L}\p{N}]?+\p{L}++ | \p{N}{1,3}+
//! | ?[^\s\p{L}\p{N}]++[\r\n]*+ | \s++$ | \s*[\r\n] | \s+(?!\S) | \s
//! ```
//!
//! Alternatives are tried in order at each position, as a backtracking
//! engine does; every character starts some alternative, so the pieces
//! tile the text. Running fancy-regex's backtracking VM over every file
//! was most of what counting cost. The character classes (`\p{L}`,
//! `\p{N}`, `\s`, and the case folds of `(?i)`) come from regex-syntax, the
//! tables fancy-regex itself compiles the pattern with, so both agree on
//! every character; `tokens::tests` compares the pieces' token counts
//! with tiktoken's over hostile text.

use std::sync::OnceLock;

const LETTER: u8 = 1;
const NUMBER: u8 = 2;
const SPACE: u8 = 4;

/// Sorted, disjoint inclusive ranges of one Unicode class.
struct Ranges(Vec<(char, char)>);

impl Ranges {
    fn of(pattern: &str) -> Ranges {
        let hir = regex_syntax::parse(pattern).expect("a valid class pattern");
        let mut out = Vec::new();
        if let regex_syntax::hir::HirKind::Class(regex_syntax::hir::Class::Unicode(class)) =
            hir.kind()
        {
            out.extend(class.ranges().iter().map(|r| (r.start(), r.end())));
        }
        assert!(!out.is_empty(), "{pattern} is a Unicode class");
        Ranges(out)
    }

    fn contains(&self, c: char) -> bool {
        self.0
            .binary_search_by(|&(lo, hi)| {
                if hi < c {
                    std::cmp::Ordering::Less
                } else if lo > c {
                    std::cmp::Ordering::Greater
                } else {
                    std::cmp::Ordering::Equal
                }
            })
            .is_ok()
    }
}

struct Classes {
    ascii: [u8; 128],
    letter: Ranges,
    number: Ranges,
    space: Ranges,
    /// `(?i)` folds of the letters of the contractions, by letter.
    folds: Vec<(u8, Ranges)>,
}

fn classes() -> &'static Classes {
    static CLASSES: OnceLock<Classes> = OnceLock::new();
    CLASSES.get_or_init(|| {
        let letter = Ranges::of(r"\p{L}");
        let number = Ranges::of(r"\p{N}");
        let space = Ranges::of(r"\s");
        let mut ascii = [0u8; 128];
        for (b, slot) in ascii.iter_mut().enumerate() {
            let c = b as u8 as char;
            *slot = (letter.contains(c) as u8 * LETTER)
                | (number.contains(c) as u8 * NUMBER)
                | (space.contains(c) as u8 * SPACE);
        }
        let folds = b"sdmtlver"
            .iter()
            .map(|&b| (b, Ranges::of(&format!("(?i:{})", b as char))))
            .collect();
        Classes {
            ascii,
            letter,
            number,
            space,
            folds,
        }
    })
}

impl Classes {
    fn of(&self, c: char) -> u8 {
        if c.is_ascii() {
            return self.ascii[c as usize];
        }
        (self.letter.contains(c) as u8 * LETTER)
            | (self.number.contains(c) as u8 * NUMBER)
            | (self.space.contains(c) as u8 * SPACE)
    }

    /// Whether `c` matches the letter `b` under `(?i)`.
    fn folds_to(&self, c: char, b: u8) -> bool {
        if c.is_ascii() {
            return c.eq_ignore_ascii_case(&(b as char));
        }
        self.folds
            .iter()
            .find(|(l, _)| *l == b)
            .is_some_and(|(_, r)| r.contains(c))
    }
}

/// Calls `f` with each piece of `text`, in order.
pub fn for_each_piece(text: &str, mut f: impl FnMut(&str)) {
    let cls = classes();
    let mut chars: Vec<(usize, char, u8)> = Vec::with_capacity(text.len());
    for (i, c) in text.char_indices() {
        chars.push((i, c, cls.of(c)));
    }
    let n = chars.len();
    let at = |k: usize| if k < n { chars[k].0 } else { text.len() };
    let mut i = 0;
    while i < n {
        let end = piece_end(cls, &chars, i);
        debug_assert!(end > i);
        f(&text[at(i)..at(end)]);
        i = end;
    }
}

fn is_newline(c: char) -> bool {
    c == '\r' || c == '\n'
}

/// Where the piece starting at char `i` ends (exclusive, in chars).
fn piece_end(cls: &Classes, chars: &[(usize, char, u8)], i: usize) -> usize {
    let n = chars.len();
    let (_, c, k) = chars[i];
    let class = |j: usize| chars[j].2;
    // '(?i:[sdmt]|ll|ve|re)
    if c == '\'' && i + 1 < n {
        let c1 = chars[i + 1].1;
        if b"sdmt".iter().any(|&b| cls.folds_to(c1, b)) {
            return i + 2;
        }
        if i + 2 < n {
            let c2 = chars[i + 2].1;
            for pair in [b"ll", b"ve", b"re"] {
                if cls.folds_to(c1, pair[0]) && cls.folds_to(c2, pair[1]) {
                    return i + 3;
                }
            }
        }
    }
    // [^\r\n\p{L}\p{N}]?+\p{L}++
    let start = if k & (LETTER | NUMBER) == 0 && !is_newline(c) {
        i + 1
    } else {
        i
    };
    if start < n && class(start) & LETTER != 0 {
        let mut j = start;
        while j < n && class(j) & LETTER != 0 {
            j += 1;
        }
        return j;
    }
    // \p{N}{1,3}+
    if k & NUMBER != 0 {
        let mut j = i;
        while j < n && j - i < 3 && class(j) & NUMBER != 0 {
            j += 1;
        }
        return j;
    }
    // ' ?[^\s\p{L}\p{N}]++[\r\n]*+'
    let other = |j: usize| class(j) & (LETTER | NUMBER | SPACE) == 0;
    let start = if c == ' ' && i + 1 < n && other(i + 1) {
        Some(i + 1)
    } else if other(i) {
        Some(i)
    } else {
        None
    };
    if let Some(start) = start {
        let mut j = start;
        while j < n && other(j) {
            j += 1;
        }
        while j < n && is_newline(chars[j].1) {
            j += 1;
        }
        return j;
    }
    // What is left starts with white space.
    let mut run = i;
    while run < n && class(run) & SPACE != 0 {
        run += 1;
    }
    // \s++$
    if run == n {
        return n;
    }
    // \s*[\r\n]: up to the run's last line break.
    if let Some(last) = (i..run).rev().find(|&j| is_newline(chars[j].1)) {
        return last + 1;
    }
    // \s+(?!\S): the run but its last character, when that leaves one.
    if run - i >= 2 {
        return run - 1;
    }
    // \s
    i + 1
}
