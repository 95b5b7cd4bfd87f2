//! Small text helpers of the daemon's page: HTML escaping, ages and
//! durations in words, the web address of a GitHub API. Pure.

/// Text safe inside HTML elements and quoted attributes.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// An age in words: "just now", "5 minutes ago", "3 hours ago".
pub fn ago(secs: u64) -> String {
    let (n, unit) = match secs {
        0..10 => return "just now".into(),
        10..120 => (secs, "second"),
        120..7200 => (secs / 60, "minute"),
        7200..172_800 => (secs / 3600, "hour"),
        _ => (secs / 86_400, "day"),
    };
    format!("{n} {unit}{} ago", if n == 1 { "" } else { "s" })
}

/// A duration: "0.42 s", "12.3 s", "4 min 10 s".
pub fn seconds(s: f64) -> String {
    if s < 10.0 {
        format!("{s:.2} s")
    } else if s < 120.0 {
        format!("{s:.1} s")
    } else {
        let whole = s.round() as u64;
        format!("{} min {} s", whole / 60, whole % 60)
    }
}

/// Where pull requests are shown for an API address:
/// `https://api.github.com` is `https://github.com`; a GitHub Enterprise
/// `https://host/api/v3` is `https://host`.
pub fn link_base(api_url: &str) -> String {
    let url = api_url.trim().trim_end_matches('/');
    if url.is_empty() || url == "https://api.github.com" {
        return "https://github.com".into();
    }
    url.strip_suffix("/api/v3").unwrap_or(url).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_and_escapes() {
        assert_eq!(
            escape("<a href=\"x\">&'"),
            "&lt;a href=&quot;x&quot;&gt;&amp;&#39;"
        );
        assert_eq!(ago(3), "just now");
        assert_eq!(ago(61), "61 seconds ago");
        assert_eq!(ago(600), "10 minutes ago");
        assert_eq!(ago(3 * 3600), "3 hours ago");
        assert_eq!(ago(86_400 * 3), "3 days ago");
        assert_eq!(seconds(0.5), "0.50 s");
        assert_eq!(seconds(250.0), "4 min 10 s");
        assert_eq!(link_base("https://api.github.com/"), "https://github.com");
        assert_eq!(
            link_base("https://git.example.com/api/v3"),
            "https://git.example.com"
        );
    }
}
