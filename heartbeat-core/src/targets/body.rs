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

/// The longest suffix of `bytes` of at most `max` bytes that does not start
/// inside a UTF-8 character.
fn tail(bytes: &[u8], max: usize) -> &[u8] {
    if bytes.len() <= max {
        return bytes;
    }
    let mut start = bytes.len() - max;
    while start < bytes.len() && bytes[start] & 0xC0 == 0x80 {
        start += 1;
    }
    &bytes[start..]
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
pub(crate) fn compose(message: Option<&str>, log: Option<&[u8]>, limit: usize) -> Vec<u8> {
    let message = message.unwrap_or("").as_bytes();
    let log = log.unwrap_or(&[]);
    let sep: &[u8] = if !message.is_empty() && !log.is_empty() {
        b"\n\n"
    } else {
        b""
    };
    if message.len() + sep.len() + log.len() <= limit {
        return [message, sep, log].concat();
    }
    let cut = CUT.as_bytes();
    if message.len() + cut.len() >= limit {
        let text = std::str::from_utf8(message).unwrap_or_default();
        let mut out = head(text, limit.saturating_sub(cut.len()))
            .as_bytes()
            .to_vec();
        if limit > cut.len() {
            out.extend_from_slice(CUT.trim_end().as_bytes());
        }
        return out;
    }
    let room = limit - message.len() - sep.len() - cut.len();
    [message, sep, cut, tail(log, room)].concat()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fits_untouched() {
        assert_eq!(
            compose(Some("boom"), Some(b"l1\nl2"), 100),
            b"boom\n\nl1\nl2"
        );
        assert_eq!(compose(None, Some(b"log"), 100), b"log");
        assert_eq!(compose(None, None, 100), b"");
    }

    #[test]
    fn keeps_message_and_log_tail_within_limit() {
        let log = (0..100).map(|i| format!("line {i}\n")).collect::<String>();
        let out = compose(Some("failed: disk full"), Some(log.as_bytes()), 120);
        let out = String::from_utf8(out).unwrap();
        assert!(out.len() <= 120, "{}", out.len());
        assert!(out.starts_with("failed: disk full\n\n[…truncated…]\n"));
        assert!(out.ends_with("line 99\n"));
    }

    #[test]
    fn long_message_is_cut_on_a_char_boundary() {
        let msg = "é".repeat(100);
        let out = String::from_utf8(compose(Some(&msg), Some(b"log"), 50)).unwrap();
        assert!(out.len() <= 50);
        assert!(out.ends_with("[…truncated…]"));
    }

    #[test]
    fn chars_counts_characters() {
        assert_eq!(chars("héllo", 2), "hé");
        assert_eq!(chars("hi", 5), "hi");
    }
}
