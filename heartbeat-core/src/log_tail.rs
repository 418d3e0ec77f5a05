//! [`LogTail`]: the last bytes a run logged, sent with its failure.

/// The default size of a run's log tail.
pub const LOG_TAIL_BYTES: usize = 32 * 1024;

/// Keeps the last `cap` bytes appended, cut at a line boundary where the
/// kept part has one, and never emptied by a single long line.
#[derive(Debug, Default)]
pub(crate) struct LogTail {
    buf: Vec<u8>,
    cap: usize,
    /// Whether bytes were dropped from the front, and whether the last
    /// dropped byte ended a line (then the kept part starts a line).
    cut: Option<bool>,
}

impl LogTail {
    pub(crate) fn new(cap: usize) -> Self {
        Self {
            buf: Vec::new(),
            cap,
            cut: None,
        }
    }

    pub(crate) fn push(&mut self, bytes: &[u8]) {
        if self.cap == 0 {
            return;
        }
        self.buf.extend_from_slice(bytes);
        // Trim in batches, not on every push: amortised O(1) per byte.
        if self.buf.len() > 2 * self.cap {
            self.trim();
        }
    }

    fn trim(&mut self) {
        if self.buf.len() > self.cap {
            let drop = self.buf.len() - self.cap;
            self.cut = Some(self.buf[drop - 1] == b'\n');
            self.buf.drain(..drop);
        }
    }

    /// The tail, cut to size: from the first whole line when the cut fell
    /// inside a line and a later line starts in the tail; otherwise from the
    /// first whole character.
    pub(crate) fn take(&mut self) -> Vec<u8> {
        self.trim();
        let mut buf = std::mem::take(&mut self.buf);
        if self.cut.take() == Some(false) {
            let start = match buf.iter().position(|&b| b == b'\n') {
                Some(nl) if nl + 1 < buf.len() => nl + 1,
                // One long line: keep its end rather than nothing, from a
                // character boundary (skipping UTF-8 continuation bytes).
                _ => buf
                    .iter()
                    .take(3)
                    .take_while(|&&b| b & 0xC0 == 0x80)
                    .count(),
            };
            buf.drain(..start);
        }
        buf
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tail(cap: usize, pushes: &[&str]) -> String {
        let mut t = LogTail::new(cap);
        for p in pushes {
            t.push(p.as_bytes());
        }
        String::from_utf8(t.take()).unwrap()
    }

    #[test]
    fn short_logs_are_kept_whole() {
        assert_eq!(tail(100, &["one\n", "two\n"]), "one\ntwo\n");
        assert_eq!(tail(0, &["one\n"]), "");
    }

    #[test]
    fn long_logs_keep_whole_lines_at_the_end() {
        let lines: Vec<String> = (0..100).map(|i| format!("line {i:03}\n")).collect();
        let refs: Vec<&str> = lines.iter().map(String::as_str).collect();
        let got = tail(50, &refs);
        assert!(got.len() <= 50, "{got:?}");
        assert!(got.starts_with("line "), "{got:?}");
        assert!(got.ends_with("line 099\n"), "{got:?}");
    }

    #[test]
    fn one_long_line_keeps_its_end() {
        let long = "x".repeat(1000) + "END";
        let got = tail(64, &["first\n", &long]);
        assert_eq!(got.len(), 64);
        assert!(got.ends_with("END"), "{got:?}");
    }

    #[test]
    fn cut_inside_a_character_skips_to_the_next() {
        // "é" is two bytes; a cap of 5 over "éééé" (8 bytes) starts mid-char.
        let got = tail(5, &["éééé"]);
        assert_eq!(got, "éé");
    }
}
