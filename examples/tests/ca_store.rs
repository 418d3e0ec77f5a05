//! Certificates never stop a job: the README's kind of program, run as cron
//! runs it (the binary itself, not through `cargo run`, which rewrites the
//! `SSL_CERT_*` variables of what it starts), with the system's CA store
//! missing. An http target does not read certificates at all; an https
//! target trusts what `SSL_CERT_FILE` names, else the bundled roots; a
//! certificate nobody trusts is a counted, logged loss and the job's own
//! result stands.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::Arc;

use heartbeat_core::test::Receiver;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio::net::{TcpListener, TcpStream};

/// The example `cron_job`, configured for `url`, with the given CA settings
/// and nothing inherited that could point it elsewhere.
fn cron_job(url: &str, cert_file: &Path) -> Output {
    let exe = std::env::current_exe().unwrap();
    let path = exe
        .parent()
        .unwrap()
        .parent()
        .unwrap()
        .join("examples/cron_job");
    Command::new(path)
        .env_clear()
        .env("HEALTHCHECKS_PING_URL", url)
        .env("HEALTHCHECKS_PING_KEY", "child-key")
        .env("SSL_CERT_FILE", cert_file)
        .env("SSL_CERT_DIR", missing())
        .env("RUST_LOG", "info")
        .output()
        .unwrap()
}

fn missing() -> PathBuf {
    PathBuf::from("/nonexistent/heartbeat-test-certs")
}

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/tls")
        .join(name)
}

/// A TLS front for `rx` with the fixture certificate (signed by
/// tests/tls/ca.pem, for 127.0.0.1): the https URL to use.
fn tls_front(rx: &Receiver, runtime: &tokio::runtime::Runtime) -> String {
    let certs = CertificateDer::pem_file_iter(fixture("server.pem"))
        .unwrap()
        .collect::<Result<Vec<_>, _>>()
        .unwrap();
    let key = PrivateKeyDer::from_pem_file(fixture("server.key")).unwrap();
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_no_client_auth()
    .with_single_cert(certs, key)
    .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = runtime.block_on(TcpListener::bind("127.0.0.1:0")).unwrap();
    let port = listener.local_addr().unwrap().port();
    let backend = rx.addr();
    runtime.spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                // A client that refuses the certificate ends the handshake.
                let Ok(mut tls) = acceptor.accept(tcp).await else {
                    return;
                };
                if let Ok(mut plain) = TcpStream::connect(backend).await {
                    let _ = tokio::io::copy_bidirectional(&mut tls, &mut plain).await;
                }
            });
        }
    });
    format!("https://127.0.0.1:{port}")
}

fn paths(rx: &Receiver) -> Vec<String> {
    rx.requests().into_iter().map(|r| r.path).collect()
}

/// The value of `name=` in a line of tracing's fmt output (quotes removed).
fn field<'a>(line: &'a str, name: &str) -> Option<&'a str> {
    line.split_whitespace()
        .find_map(|w| w.strip_prefix(name)?.strip_prefix('='))
        .map(|v| v.trim_matches('"'))
}

/// The lines of `stderr` logged at `level` whose `name` field is `value`.
fn lines_with<'a>(stderr: &'a str, level: &str, name: &str, value: &str) -> Vec<&'a str> {
    stderr
        .lines()
        .filter(|l| l.split_whitespace().nth(1) == Some(level))
        .filter(|l| field(l, name) == Some(value))
        .collect()
}

#[test]
fn an_http_target_delivers_without_any_ca_certificates() {
    let rx = Receiver::start().unwrap();
    let out = cron_job(&rx.url(), &missing());
    assert!(out.status.success(), "{out:?}");
    assert_eq!(
        paths(&rx),
        [
            "/child-key/nightly-backup/start",
            "/child-key/nightly-backup"
        ]
    );
    // No certificate was read, so nothing was said about them.
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("CA certificate"), "{stderr}");
}

#[test]
fn an_https_target_trusts_the_ca_that_ssl_cert_file_names() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let rx = Receiver::start().unwrap();
    let url = tls_front(&rx, &runtime);
    let out = cron_job(&url, &fixture("ca.pem"));
    assert!(out.status.success(), "{out:?}");
    assert_eq!(
        paths(&rx),
        [
            "/child-key/nightly-backup/start",
            "/child-key/nightly-backup"
        ]
    );
}

#[test]
fn an_untrusted_certificate_is_a_counted_loss_and_the_job_still_runs() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let rx = Receiver::start().unwrap();
    let url = tls_front(&rx, &runtime);
    // No system store: the bundled Mozilla roots, which do not know the
    // test CA.
    let out = cron_job(&url, &missing());
    assert!(out.status.success(), "the job's own result stands: {out:?}");
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "backed up 1204224 bytes\n"
    );
    assert!(rx.requests().is_empty(), "{:?}", rx.requests());
    let stderr = String::from_utf8_lossy(&out.stderr);
    // One ERROR line for the check (not one per ping), naming the cause.
    let rejected = lines_with(&stderr, "ERROR", "operation", "rejected");
    assert_eq!(rejected.len(), 1, "{stderr}");
    assert!(rejected[0].contains("invalid peer certificate"), "{stderr}");
    // The bundled roots were used, and said why.
    let fallback: Vec<_> = stderr
        .lines()
        .filter(|l| l.split_whitespace().nth(1) == Some("WARN") && field(l, "roots").is_some())
        .collect();
    assert_eq!(fallback.len(), 1, "{stderr}");
    // Both pings counted as failed, in the exit flush's last word.
    let last = lines_with(&stderr, "WARN", "failed", "2");
    assert_eq!(last.len(), 1, "{stderr}");
}
