//! Counting tokens the way a model would be charged: OpenAI's `cl100k_base`
//! encoding, whose data ships inside the tiktoken-rs crate (no network).

/// cl100k tokens in `text`.
pub fn count(text: &str) -> u64 {
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
