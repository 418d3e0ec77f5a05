//! The `#[job]` attribute of [heartbeat-core](https://docs.rs/heartbeat-core).
//! Use it as `heartbeat_core::job`; this crate is an implementation detail.
//!
//! ```ignore
//! use heartbeat_core::job;
//!
//! #[job(schedule = "0 3 * * *", tz = "Europe/Paris", grace = "15m", max_runtime = "1h",
//!       runbook = "https://wiki.example.com/backup", priority = P1)]
//! async fn nightly_backup() -> Result<(), std::io::Error> {
//!     Ok(())
//! }
//! ```

mod attr;
mod expand;

use proc_macro::TokenStream;

/// Monitors every call of a function as a run of a check, through the
/// default monitor (`heartbeat_core::init`, or `with_default`/`scoped` in
/// tests; without one, runs are only logged), or the one given by
/// `monitor = …`.
///
/// Works on `fn` and `async fn`. `#[job]` alone uses the function's name in
/// kebab case as the slug. Arguments, each validated at compile time:
///
/// | argument | example | meaning |
/// |---|---|---|
/// | `slug` | `"nightly-backup"` | the check's slug (`a-z0-9-_`, at most 50) |
/// | `schedule` | `"0 3 * * *"` | 5-field cron expression |
/// | `every` | `"5m"` | interval schedule (whole minutes) |
/// | `tz` | `"Europe/Paris"` | IANA time zone of the schedule |
/// | `grace` | `"15m"` | lateness allowed before alerting |
/// | `max_runtime` | `"1h"` | "taking too long" threshold |
/// | `runbook` | `"https://…"` | runbook URL sent with failures |
/// | `priority` | `P1` | P1, P2 or P3 |
/// | `monitor` | `my_monitor()` | report to this monitor (an expression giving a `Monitor` or `&Monitor`, evaluated per call) instead of the default one |
///
/// Durations are a number with a unit, `s`, `m`, `h` or `d`, which may be
/// combined: `"1h30m"`. Every argument is checked by the same functions
/// `Check::build` uses, and a bad one is a compile error at the argument.
/// The function's output decides the run's outcome, as for
/// `heartbeat_core::run!`: `()` and `Ok` succeed, `Err` fails with the
/// error's source chain (`std::error::Error`, `anyhow::Error`, boxed errors)
/// or its text (`String`, any `Display`), an `i32` is an exit status. A
/// panic is reported and resumed. Inside the function,
/// `heartbeat_core::current_run()` gives the run.
#[proc_macro_attribute]
pub fn job(args: TokenStream, item: TokenStream) -> TokenStream {
    let args = match syn::parse::<attr::Args>(args) {
        Ok(a) => a,
        Err(e) => return e.to_compile_error().into(),
    };
    let function = match syn::parse::<syn::ItemFn>(item) {
        Ok(f) => f,
        Err(e) => {
            return syn::Error::new(e.span(), "#[job] goes on a function (`fn` or `async fn`)")
                .to_compile_error()
                .into();
        }
    };
    expand::expand(args, function)
        .unwrap_or_else(syn::Error::into_compile_error)
        .into()
}
