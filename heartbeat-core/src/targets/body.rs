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
/// at most `limit` bytes. A message that fits is never cut; one that does
/// not keeps its head and its last line (the runbook link).
pub(crate) fn compose(message: Option<&str>, log: Option<&[u8]>, limit: usize) -> Vec<u8> {
    let message = message.unwrap_or("");
    let log = log.unwrap_or(&[]);
    let sep: &[u8] = if !message.is_empty() && !log.is_empty() {
        b"\n\n"
    } else {
        b""
    };
    if message.len() + sep.len() + log.len() <= limit {
        return [message.as_bytes(), sep, log].concat();
    }
    if message.len() > limit {
        return cut_message(message, limit).into_bytes();
    }
    // The message fits: the log's end fills what is left, after a marker.
    let room = limit.saturating_sub(message.len() + sep.len() + CUT.len());
    let tail = tail(log, room);
    if tail.is_empty() {
        return message.as_bytes().to_vec();
    }
    [message.as_bytes(), sep, CUT.as_bytes(), tail].concat()
}

/// A message longer than `limit`, cut in the middle: its head, a marker,
/// and its last line (the runbook link), when that line fits in half.
fn cut_message(message: &str, limit: usize) -> String {
    let marker = CUT.trim_end();
    let (body, last) = match message.rsplit_once('\n') {
        Some((body, last)) if last.len() < limit / 2 => (body, Some(last)),
        _ => (message, None),
    };
    let kept_last = last.map_or(0, |l| l.len() + 2);
    let room = limit.saturating_sub(marker.len() + kept_last);
    let mut out = head(body, room).to_owned();
    if limit > marker.len() + kept_last {
        out.push_str(marker);
    }
    if let Some(last) = last {
        out.push('\n');
        out.push_str(last);
    }
    out
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
    fn a_message_that_fits_is_never_cut() {
        let msg = "x".repeat(95);
        let out = String::from_utf8(compose(Some(&msg), Some(b"a long log"), 100)).unwrap();
        assert_eq!(out, msg, "no room for the log: the message alone, whole");
    }

    #[test]
    fn a_long_message_keeps_its_runbook_line() {
        let msg = format!(
            "{}\nrunbook: https://wiki.example.com/rb",
            "boom ".repeat(100)
        );
        let out = String::from_utf8(compose(Some(&msg), Some(b"log"), 120)).unwrap();
        assert!(out.len() <= 120, "{}", out.len());
        assert!(out.starts_with("boom boom"), "{out}");
        assert!(
            out.ends_with("[…truncated…]\nrunbook: https://wiki.example.com/rb"),
            "{out}"
        );
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
