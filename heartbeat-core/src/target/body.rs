//! Fitting messages and logs into a service's size limit.

/// Marker put where text was cut.
pub(crate) const CUT: &str = "[…truncated…]\n";

/// The longest prefix of `s` of at most `max` bytes ending on a char boundary.
pub(crate) fn head(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

/// The longest suffix of `s` of at most `max` bytes starting on a char boundary.
pub(crate) fn tail(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut start = s.len() - max;
    while !s.is_char_boundary(start) {
        start += 1;
    }
    &s[start..]
}

/// A message cut to `max` characters (not bytes), for services that count
/// characters in a query parameter.
pub(crate) fn chars(s: &str, max: usize) -> &str {
    match s.char_indices().nth(max) {
        Some((i, _)) => &s[..i],
        None => s,
    }
}

/// The body for a ping: the message first (it says what went wrong), then as
/// much of the log's *end* as fits (the last lines are the useful ones), in
/// at most `limit` bytes.
pub(crate) fn compose(message: Option<&str>, log: Option<&str>, limit: usize) -> String {
    let message = message.unwrap_or("");
    let log = log.unwrap_or("");
    let sep = if !message.is_empty() && !log.is_empty() {
        "\n\n"
    } else {
        ""
    };
    if message.len() + sep.len() + log.len() <= limit {
        return format!("{message}{sep}{log}");
    }
    if message.len() + CUT.len() >= limit {
        let mut out = head(message, limit.saturating_sub(CUT.len())).to_owned();
        if limit > CUT.len() {
            out.push_str(CUT.trim_end());
        }
        return out;
    }
    let room = limit - message.len() - sep.len() - CUT.len();
    format!("{message}{sep}{CUT}{}", tail(log, room))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fits_untouched() {
        assert_eq!(compose(Some("boom"), Some("l1\nl2"), 100), "boom\n\nl1\nl2");
        assert_eq!(compose(None, Some("log"), 100), "log");
        assert_eq!(compose(None, None, 100), "");
    }

    #[test]
    fn keeps_message_and_log_tail_within_limit() {
        let log = (0..100).map(|i| format!("line {i}\n")).collect::<String>();
        let out = compose(Some("failed: disk full"), Some(&log), 120);
        assert!(out.len() <= 120, "{}", out.len());
        assert!(out.starts_with("failed: disk full\n\n[…truncated…]\n"));
        assert!(out.ends_with("line 99\n"));
    }

    #[test]
    fn long_message_is_cut_on_a_char_boundary() {
        let msg = "é".repeat(100);
        let out = compose(Some(&msg), Some("log"), 50);
        assert!(out.len() <= 50);
        assert!(out.ends_with("[…truncated…]"));
    }

    #[test]
    fn chars_counts_characters() {
        assert_eq!(chars("héllo", 2), "hé");
        assert_eq!(chars("hi", 5), "hi");
    }
}
