//! URLs and the ids and keys that go into them.

/// Checks an absolute http(s) URL with a host (a runbook, a base URL).
/// The reason never repeats the URL, which may hold a key.
pub fn absolute_http_url(raw: &str) -> Result<(), &'static str> {
    let url = ::url::Url::parse(raw).map_err(|_| "does not parse as a URL")?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err("has a scheme other than http or https");
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err("has no host");
    }
    Ok(())
}

/// Checks a value that goes into a URL path segment: an id, token or key.
/// Segments are percent-encoded, but a '/' may be decoded again by a
/// proxy, and a secret never contains whitespace: a pasted newline does.
/// The reason never repeats the value, which may be a secret.
pub fn path_segment(value: &str, secret: bool) -> Result<(), &'static str> {
    if value.trim().is_empty() {
        Err("is empty; copy it from the service's dashboard")
    } else if secret && (value.contains(['/', '?', '#']) || value.chars().any(char::is_whitespace))
    {
        Err("contains '/', '?', '#' or whitespace; give only the key or token, not the whole URL")
    } else if value.contains(['/', '?', '#']) {
        Err("contains '/', '?' or '#', which cannot go in a URL path segment")
    } else if value.chars().any(char::is_control) {
        Err("contains a control character; copy it again from the service's dashboard")
    } else {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls() {
        assert_eq!(
            absolute_http_url("https://wiki.example.com/runbook"),
            Ok(())
        );
        assert!(absolute_http_url("https://exa mple.com/runbook").is_err());
        assert!(absolute_http_url("wiki/backup").is_err());
        assert!(absolute_http_url("ftp://example.com").is_err());
    }

    #[test]
    fn segments() {
        assert_eq!(path_segment("abc-123", true), Ok(()));
        assert!(path_segment("", false).is_err());
        assert!(path_segment("https://x/abc", true).is_err());
        assert!(path_segment("abc\n", true).is_err());
        assert!(path_segment("a\u{7}b", false).is_err());
    }
}
