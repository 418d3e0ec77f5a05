use heartbeat_core::job;

#[job]
fn plain() {}

#[job(
    slug = "nightly-backup",
    schedule = "0 3 * * MON-FRI",
    tz = "Europe/Paris",
    grace = "1h30m",
    max_runtime = "2h",
    runbook = "https://wiki.example.com/backup",
    priority = P1,
)]
fn with_everything(n: u32) -> Result<u32, std::io::Error> {
    let parsed: u32 = "1".parse().map_err(std::io::Error::other)?;
    Ok(n + parsed)
}

#[job(every = "5m", priority = "P3")]
async fn interval_job(name: &str) -> Result<usize, std::io::Error> {
    if name.is_empty() {
        return Err(std::io::Error::other("empty"));
    }
    Ok(name.len())
}

#[job(slug = "generic-job")]
fn generic<T: std::fmt::Display, I>(value: T, items: I) -> Result<String, std::fmt::Error>
where
    I: IntoIterator<Item = u32>,
{
    let total: u32 = items.into_iter().sum();
    Ok(format!("{value}: {total}"))
}

struct Worker {
    count: u32,
}

impl Worker {
    #[job(slug = "worker-tick")]
    fn tick(&mut self) -> i32 {
        self.count += 1;
        0
    }

    #[job]
    async fn run_async(&self) {}
}

fn assert_send<T: Send>(_: T) {}

fn main() {
    assert_send(interval_job("x"));
    plain();
    let _ = generic("sum", [1, 2, 3]);
    let _ = with_everything(1);
    let _ = interval_job("x");
    let mut w = Worker { count: 0 };
    w.tick();
    let _ = w.run_async();
}
