//! TLS for HTTPS targets: the crypto provider (chosen by cargo feature, never
//! installed process-wide) and the trusted roots (the system's store, else
//! the bundled Mozilla roots).
//!
//! Nothing here runs unless an HTTPS target sends, and then on the delivery
//! thread: a cron job in a container with no certificates still runs, and
//! one whose targets are plain http never reads a certificate.

use std::sync::Arc;

use rustls::crypto::CryptoProvider;
use rustls::{ClientConfig, RootCertStore};

#[cfg(not(any(feature = "ring", feature = "aws-lc-rs")))]
compile_error!(
    "heartbeat-core needs a TLS crypto provider: enable the `ring` feature (the default) or `aws-lc-rs`"
);

/// The provider this build uses: aws-lc-rs when its feature is on (an
/// explicit choice over the default), else ring.
pub(crate) fn provider() -> Arc<CryptoProvider> {
    #[cfg(feature = "aws-lc-rs")]
    let provider = rustls::crypto::aws_lc_rs::default_provider();
    #[cfg(all(feature = "ring", not(feature = "aws-lc-rs")))]
    let provider = rustls::crypto::ring::default_provider();
    Arc::new(provider)
}

/// The name of [`provider`], for logs and the README.
pub(crate) const PROVIDER: &str = if cfg!(feature = "aws-lc-rs") {
    "aws-lc-rs"
} else {
    "ring"
};

/// A configuration that trusts no certificate: for the client that only
/// ever speaks plain http (reqwest needs one to build a client).
pub(crate) fn plain_config() -> Result<ClientConfig, String> {
    config(RootCertStore::empty())
}

/// A configuration trusting the system's roots, or the bundled ones where
/// the system has none (a `FROM scratch` or distroless image, a broken
/// bundle, `SSL_CERT_FILE` naming a missing file).
pub(crate) fn https_config() -> Result<ClientConfig, String> {
    config(roots())
}

fn config(roots: RootCertStore) -> Result<ClientConfig, String> {
    let mut config = ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("the {PROVIDER} TLS provider cannot be used: {e}"))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    // The client speaks HTTP/1.1 only (reqwest's `http2` feature is off).
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(config)
}

fn roots() -> RootCertStore {
    let found = rustls_native_certs::load_native_certs();
    let mut store = RootCertStore::empty();
    let (added, unparsable) = store.add_parsable_certificates(found.certs);
    if added > 0 {
        tracing::debug!(
            target: "heartbeat",
            roots = added,
            unparsable,
            provider = PROVIDER,
            "heartbeat HTTPS: trusting the system's CA certificates"
        );
        return store;
    }
    store.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    let problems: Vec<String> = found.errors.iter().map(ToString::to_string).collect();
    if problems.is_empty() {
        tracing::info!(
            target: "heartbeat",
            roots = store.len(),
            "heartbeat HTTPS: the system has no CA certificates; trusting the bundled Mozilla roots (webpki-roots)"
        );
    } else {
        tracing::warn!(
            target: "heartbeat",
            roots = store.len(),
            "heartbeat HTTPS: no CA certificate could be loaded from the system ({}); \
             trusting the bundled Mozilla roots (webpki-roots) instead",
            problems.join("; ")
        );
    }
    store
}

/// Whether a transport error is the server's certificate being refused:
/// trouble that retrying does not fix (a missing CA bundle, a proxy that
/// intercepts TLS, a wrong host name), so it is reported, not retried.
pub(crate) fn certificate_refused(err: &(dyn std::error::Error + 'static)) -> Option<String> {
    let mut next = Some(err);
    while let Some(e) = next {
        if let Some(e @ rustls::Error::InvalidCertificate(_)) = e.downcast_ref::<rustls::Error>() {
            return Some(e.to_string());
        }
        // An `io::Error`'s `source()` skips the error it wraps (reqwest's
        // connector nests two): look inside instead.
        next = match e
            .downcast_ref::<std::io::Error>()
            .and_then(std::io::Error::get_ref)
        {
            Some(inner) => Some(inner as &(dyn std::error::Error + 'static)),
            None => e.source(),
        };
    }
    None
}
