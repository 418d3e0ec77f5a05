//! The README's minimal cron job without heartbeat: the baseline for the
//! binary size in benches/README.md.

fn main() -> Result<(), Box<dyn std::error::Error>> {
    std::fs::copy("db.sqlite", "backup.sqlite")?;
    Ok(())
}
