//! Counting tokens the way a model would be charged: OpenAI's `cl100k_base`
//! encoding, whose data ships inside the tiktoken-rs crate (no network).
//!
//! Counts are exact: the same number tiktoken-rs's `encode_ordinary` gives,
//! for every text. Only the pre-split differs in how it is done
//! (`pieces`: a scan instead of fancy-regex's backtracking VM, several
//! times faster); each piece is then looked up in the vocabulary, or
//! byte-pair merged with tiktoken-rs's own merge, or, for a piece of 100
//! bytes or more, encoded by tiktoken-rs itself.

mod pieces;

use std::sync::OnceLock;

use rustc_hash::FxHashMap;

/// Pieces this long or longer go to tiktoken-rs whole (it merges them with
/// another algorithm; counting them there keeps the count its own).
const LONG_PIECE: usize = 100;

/// cl100k's vocabulary: token bytes to rank, read back from tiktoken-rs's
/// decoder once per process.
fn vocabulary() -> &'static FxHashMap<Vec<u8>, tiktoken_rs::Rank> {
    static VOCAB: OnceLock<FxHashMap<Vec<u8>, tiktoken_rs::Rank>> = OnceLock::new();
    VOCAB.get_or_init(|| {
        let bpe = tiktoken_rs::cl100k_base_singleton();
        let mut vocab = FxHashMap::default();
        vocab.reserve(100_256);
        for rank in 0..100_256 {
            if let Ok(bytes) = bpe.decode_bytes(&[rank]) {
                vocab.insert(bytes, rank);
            }
        }
        vocab
    })
}

/// cl100k tokens in `text`.
pub fn count(text: &str) -> u64 {
    if text.is_empty() {
        return 0;
    }
    let vocab = vocabulary();
    let mut n = 0u64;
    pieces::for_each_piece(text, |piece| {
        let bytes = piece.as_bytes();
        n += if bytes.len() == 1 || vocab.contains_key(bytes) {
            1
        } else if bytes.len() < LONG_PIECE {
            merged_len(bytes, vocab)
        } else {
            tiktoken_rs::cl100k_base_singleton()
                .encode_ordinary(piece)
                .len() as u64
        };
    });
    n
}

/// Pieces merged so far on this thread and their token counts (the same
/// identifiers recur across a repository); cleared when it grows large.
const MERGE_CACHE_MAX: usize = 1 << 16;

thread_local! {
    static MERGED: std::cell::RefCell<FxHashMap<Box<[u8]>, u32>> =
        std::cell::RefCell::new(FxHashMap::default());
}

/// Tokens of a piece that is not one token, by tiktoken-rs's byte-pair merge.
fn merged_len(piece: &[u8], vocab: &FxHashMap<Vec<u8>, tiktoken_rs::Rank>) -> u64 {
    let merge = || tiktoken_rs::byte_pair_split(piece, vocab).len() as u32;
    MERGED
        .try_with(|cell| {
            let mut cache = cell.borrow_mut();
            if let Some(n) = cache.get(piece) {
                return *n;
            }
            let n = merge();
            if cache.len() >= MERGE_CACHE_MAX {
                cache.clear();
            }
            cache.insert(piece.into(), n);
            n
        })
        .unwrap_or_else(|_| merge()) as u64
}

/// What tiktoken-rs itself counts (the reference [`count`] agrees with).
pub fn count_reference(text: &str) -> u64 {
    if text.is_empty() {
        return 0;
    }
    tiktoken_rs::cl100k_base_singleton()
        .encode_ordinary(text)
        .len() as u64
}

/// The longest prefix of `text` (cut at a char boundary, preferably at a
/// line end) that fits in `max_tokens`, and its token count.
pub fn truncate(text: &str, max_tokens: u64) -> (&str, u64) {
    let total = count(text);
    if total <= max_tokens {
        return (text, total);
    }
    if max_tokens == 0 {
        return ("", 0);
    }
    // Binary search on the byte length; token counts grow with the prefix.
    let (mut lo, mut hi) = (0usize, text.len());
    while lo < hi {
        let mid = floor_char_boundary(text, (lo + hi).div_ceil(2));
        if mid <= lo {
            break;
        }
        if count(&text[..mid]) <= max_tokens {
            lo = mid;
        } else {
            hi = mid - 1;
        }
    }
    let mut cut = floor_char_boundary(text, lo);
    if let Some(nl) = text[..cut].rfind('\n')
        && nl > cut / 2
    {
        cut = nl + 1;
    }
    let prefix = &text[..cut];
    (prefix, count(prefix))
}

fn floor_char_boundary(s: &str, mut i: usize) -> usize {
    if i >= s.len() {
        return s.len();
    }
    while !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Text built to hit every alternative of the pattern and every class
    /// boundary: contractions in any case (and the long s, a case fold of
    /// `s`), letters of many scripts, combining marks, numbers of other
    /// scripts, every kind of white space before letters, numbers, symbols
    /// and line breaks, runs at the very end.
    fn hostile_samples() -> Vec<String> {
        let mut v: Vec<String> = [
            "",
            " ",
            "  ",
            "\n",
            "\r\n",
            " \n ",
            "a",
            "'s",
            "'S",
            "'ſ",
            "'ll",
            "'LL",
            "'lL",
            "'l",
            "'ve",
            "'re",
            "'d'm't",
            "'x",
            "''s",
            "don't",
            "I'M",
            "we'Ve",
            "'",
            "''",
            "' s",
            "hello world",
            " hello",
            "  hello",
            "\thello",
            "\u{a0}hello",
            "(hello",
            "\nhello",
            "12345678",
            "x1y22z333",
            "١٢٣٤",
            "Ⅻ½²",
            "a\u{301}b",
            "e\u{301}",
            "\u{301}",
            "日本語のテキスト",
            "Привет, мир!",
            "مرحبا",
            "   \n\n   x",
            "x   ",
            "x\n\n",
            "x \n",
            "a  b",
            "a \t b",
            "{}\n",
            " {\n",
            " ;;;\r\n\n",
            "!!!",
            " !!",
            "a!!b",
            "\u{3000}x\u{3000}",
            "\u{2028}y",
            "\u{85}z",
            "\u{feff}w",
            "tab\tsep\tvalues\t",
            "    fn main() {\n        println!(\"hi\");\n    }\n",
            "emoji 🎉🎉 ok",
            "🎉",
            " 🎉x",
            "\u{0}\u{1}\u{7f}",
            "=================== long ===",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        v.push("a".repeat(150));
        v.push(" ".repeat(130) + "x");
        v.push("=".repeat(120));
        v.push("\n".repeat(110));
        v.push("ab1".repeat(60));
        v.push(include_str!("text.rs").to_string());
        v.push(include_str!("tokens.rs").to_string());
        // Every pair of a few characters of each class, in every order.
        let alphabet = [
            'a', 'Z', 'é', '1', '٣', ' ', '\t', '\n', '\r', '\'', 's', '!', '\u{a0}', '\u{301}',
            '日',
        ];
        let mut all = String::new();
        for a in alphabet {
            for b in alphabet {
                for c in alphabet {
                    all.push(a);
                    all.push(b);
                    all.push(c);
                    v.push(format!("{a}{b}{c}"));
                }
            }
        }
        v.push(all);
        v
    }

    #[test]
    fn counts_as_tiktoken_does() {
        for s in hostile_samples() {
            assert_eq!(count(&s), count_reference(&s), "{s:?}");
        }
    }

    #[test]
    fn counts_known_text() {
        // "hello world" is two tokens in cl100k_base.
        assert_eq!(count("hello world"), 2);
        assert_eq!(count(""), 0);
    }

    #[test]
    fn truncate_fits_budget() {
        let text = "line one of text\nline two of text\nline three of text\n".repeat(50);
        let (cut, n) = truncate(&text, 40);
        assert!(n <= 40, "{n}");
        assert!(n > 20, "{n}");
        assert!(text.starts_with(cut));
        assert_eq!(truncate(&text, 0), ("", 0));
        let (all, n_all) = truncate("short", 100);
        assert_eq!((all, n_all), ("short", count("short")));
    }

    #[test]
    fn truncate_respects_char_boundaries() {
        let text = "日本語のテキスト".repeat(100);
        let (cut, n) = truncate(&text, 7);
        assert!(n <= 7);
        assert!(text.starts_with(cut));
    }
}
