//! `run!` and `run_blocking!` accept what Rust jobs return, as one expression.
use std::error::Error;

use heartbeat_core::{Check, Monitor, Outcome, RunOptions, run, run_blocking};

#[derive(Debug)]
struct MyError;
impl std::fmt::Display for MyError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("my error")
    }
}
impl Error for MyError {}

async fn unit() {}
async fn exit_code() -> i32 {
    0
}
async fn typed() -> Result<u8, MyError> {
    Ok(1)
}
async fn boxed() -> Result<(), Box<dyn Error + Send + Sync>> {
    Ok(())
}
async fn anyhow_result() -> anyhow::Result<String> {
    Ok(String::new())
}
async fn text() -> Result<(), String> {
    Ok(())
}
async fn outcome() -> Outcome {
    Outcome::Success
}

async fn all(monitor: Monitor, check: Check) -> Result<(), Box<dyn Error + Send + Sync>> {
    run!(monitor, &check, unit()).await;
    let _code: i32 = run!(monitor, &check, exit_code()).await;
    let _n: u8 = run!(&monitor, &check, typed()).await?;
    run!(monitor, &check, boxed()).await?;
    let _s: String = run!(monitor, &check, anyhow_result()).await?;
    run!(monitor, &check, text()).await?;
    run!(monitor, &check, RunOptions::new().attempt(2), outcome()).await;
    let local = run_blocking!(monitor, &check, || -> Result<(), Box<dyn Error>> { Ok(()) });
    drop(local);
    run_blocking!(monitor, &check, || -> Result<(), &'static str> { Ok(()) })?;
    Ok(())
}

fn main() {
    let _ = all;
}
