//! What `heartbeat exec` adds to a cron line, against the curl line it
//! replaces, with a healthy loopback service: wall time of
//!
//! - `true` alone,
//! - `sh -c 'true && curl -fsS <ping URL>'` (one ping, no start, no output),
//! - `heartbeat exec --check bench -- true` (start and outcome, both
//!   delivered before it exits),
//!
//! as fresh processes, alternated, 60 rounds; median and p90 of each.
//!
//! ```text
//! cargo bench -p heartbeat-cli --bench exec
//! ```

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use heartbeat_core::test::Receiver;

const ROUNDS: usize = 60;

fn main() {
    let rx = Receiver::start().expect("receiver");
    let ping = format!("{}/key/bench", rx.url());
    let curl_line = format!("true && curl -fsS -o /dev/null {ping}");
    let mut variants: Vec<(&str, Command)> = vec![
        ("true", Command::new("true")),
        ("true && curl", {
            let mut c = Command::new("sh");
            c.args(["-c", &curl_line]);
            c
        }),
        ("heartbeat exec -- true", {
            let mut c = Command::new(env!("CARGO_BIN_EXE_heartbeat"));
            c.args(["exec", "--check", "bench", "--", "true"])
                .env_clear()
                .env("PATH", std::env::var_os("PATH").unwrap_or_default())
                .env("HEALTHCHECKS_PING_URL", rx.url())
                .env("HEALTHCHECKS_PING_KEY", "key");
            c
        }),
    ];
    let mut times: Vec<Vec<Duration>> = vec![Vec::new(); variants.len()];
    for _ in 0..ROUNDS {
        for (i, (_, cmd)) in variants.iter_mut().enumerate() {
            let t = Instant::now();
            let status = cmd
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .expect("runs");
            times[i].push(t.elapsed());
            assert!(status.success(), "{status:?}");
        }
    }
    let requests = rx.requests();
    assert_eq!(requests.len(), 3 * ROUNDS, "every ping arrived");
    let base = median(&mut times[0].clone());
    println!(
        "{:<24} {:>10} {:>10} {:>12}",
        "command", "median", "p90", "added"
    );
    for ((name, _), t) in variants.iter().zip(&mut times) {
        let m = median(t);
        println!(
            "{:<24} {:>10} {:>10} {:>12}",
            name,
            ms(m),
            ms(t[t.len() * 9 / 10]),
            ms(m.saturating_sub(base))
        );
    }
}

fn median(t: &mut [Duration]) -> Duration {
    t.sort();
    t[t.len() / 2]
}

fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1e3)
}
