//! Parsing and validating `#[job(...)]` arguments.

use proc_macro2::Span;
use syn::parse::{Parse, ParseStream};
use syn::{Expr, Ident, LitStr, Token};

/// A string argument and where it was written (for error spans).
pub(crate) struct Spanned<T> {
    pub(crate) value: T,
    pub(crate) span: Span,
}

#[derive(Clone, Copy)]
pub(crate) enum Priority {
    P1,
    P2,
    P3,
}

#[derive(Default)]
pub(crate) struct Args {
    pub(crate) slug: Option<Spanned<String>>,
    pub(crate) schedule: Option<Spanned<String>>,
    pub(crate) every: Option<Spanned<u64>>,
    pub(crate) tz: Option<Spanned<String>>,
    pub(crate) grace: Option<Spanned<u64>>,
    pub(crate) max_runtime: Option<Spanned<u64>>,
    pub(crate) runbook: Option<Spanned<String>>,
    pub(crate) priority: Option<Priority>,
    pub(crate) monitor: Option<Expr>,
}

const ARGS: &str = "slug, schedule, every, tz, grace, max_runtime, runbook, priority, monitor";

impl Parse for Args {
    fn parse(input: ParseStream<'_>) -> syn::Result<Self> {
        let mut args = Args::default();
        while !input.is_empty() {
            let name: Ident = input.parse()?;
            input.parse::<Token![=]>()?;
            let key = name.to_string();
            let duplicate = || syn::Error::new(name.span(), format!("`{key}` is given twice"));
            match key.as_str() {
                "slug" => {
                    let slug = string(input)?;
                    check_slug(&slug.value, slug.span)?;
                    set(&mut args.slug, slug, duplicate)?;
                }
                "schedule" => {
                    let schedule = string(input)?;
                    heartbeat_validate::cron(&schedule.value).map_err(|reason| {
                        syn::Error::new(
                            schedule.span,
                            format!("invalid cron expression {:?}: {reason}", schedule.value),
                        )
                    })?;
                    set(&mut args.schedule, schedule, duplicate)?;
                }
                "tz" => {
                    let tz = string(input)?;
                    heartbeat_validate::timezone(&tz.value)
                        .map_err(|e| syn::Error::new(tz.span, e.to_string()))?;
                    set(&mut args.tz, tz, duplicate)?;
                }
                "every" => {
                    let every = duration(input)?;
                    let period = std::time::Duration::from_secs(every.value);
                    heartbeat_validate::interval(period).map_err(|reason| {
                        syn::Error::new(
                            every.span,
                            format!("interval {period:?} is not supported: {reason}"),
                        )
                    })?;
                    set(&mut args.every, every, duplicate)?;
                }
                "monitor" => {
                    let expr: Expr = input.parse()?;
                    if args.monitor.replace(expr).is_some() {
                        return Err(duplicate());
                    }
                }
                "grace" => set(&mut args.grace, duration(input)?, duplicate)?,
                "max_runtime" => {
                    let max = duration(input)?;
                    if max.value == 0 {
                        return Err(syn::Error::new(
                            max.span,
                            "`max_runtime` must be more than zero",
                        ));
                    }
                    set(&mut args.max_runtime, max, duplicate)?;
                }
                "runbook" => {
                    let url = string(input)?;
                    heartbeat_validate::absolute_http_url(&url.value).map_err(|reason| {
                        syn::Error::new(
                            url.span,
                            format!(
                                "the runbook {reason}; write an absolute http:// or https:// URL"
                            ),
                        )
                    })?;
                    set(&mut args.runbook, url, duplicate)?;
                }
                "priority" => {
                    let (text, span) = if input.peek(LitStr) {
                        let lit: LitStr = input.parse()?;
                        (lit.value(), lit.span())
                    } else {
                        let ident: Ident = input.parse()?;
                        (ident.to_string(), ident.span())
                    };
                    let p = match text.as_str() {
                        "P1" => Priority::P1,
                        "P2" => Priority::P2,
                        "P3" => Priority::P3,
                        _ => return Err(syn::Error::new(span, "`priority` is P1, P2 or P3")),
                    };
                    if args.priority.replace(p).is_some() {
                        return Err(duplicate());
                    }
                }
                _ => {
                    return Err(syn::Error::new(
                        name.span(),
                        format!("unknown argument `{key}`; #[job] takes {ARGS}"),
                    ));
                }
            }
            if input.is_empty() {
                break;
            }
            input.parse::<Token![,]>()?;
        }
        if let (Some(_), Some(every)) = (&args.schedule, &args.every) {
            return Err(syn::Error::new(
                every.span,
                "give `schedule` or `every`, not both",
            ));
        }
        Ok(args)
    }
}

fn set<T>(
    slot: &mut Option<T>,
    value: T,
    duplicate: impl FnOnce() -> syn::Error,
) -> syn::Result<()> {
    if slot.replace(value).is_some() {
        return Err(duplicate());
    }
    Ok(())
}

fn string(input: ParseStream<'_>) -> syn::Result<Spanned<String>> {
    let lit: LitStr = input
        .parse()
        .map_err(|e| syn::Error::new(e.span(), "expected a string literal"))?;
    Ok(Spanned {
        value: lit.value(),
        span: lit.span(),
    })
}

/// `"90s"`, `"15m"`, `"1h30m"`, `"2d"` → seconds.
fn duration(input: ParseStream<'_>) -> syn::Result<Spanned<u64>> {
    let s = string(input)?;
    let d = heartbeat_validate::duration(&s.value).map_err(|e| syn::Error::new(s.span, e))?;
    Ok(Spanned {
        value: d.as_secs(),
        span: s.span,
    })
}

/// The slug rules of `Check::build`, with its suggestion.
pub(crate) fn check_slug(slug: &str, span: Span) -> syn::Result<()> {
    heartbeat_validate::slug(slug).map_err(|reason| {
        let hint = heartbeat_validate::suggest_slug(slug)
            .map(|s| format!(" (try {s:?})"))
            .unwrap_or_default();
        syn::Error::new(span, format!("invalid check slug {slug:?}: {reason}{hint}"))
    })
}

/// The macro and `Check::build` give the same answer, in the same words,
/// for a shared table of good and bad inputs.
#[cfg(test)]
mod agreement {
    use std::time::Duration;

    use heartbeat_core::{Check, CheckBuilder};

    use super::Args;

    fn agree(argument: &str, value: &str, build: impl FnOnce(CheckBuilder) -> CheckBuilder) {
        let macro_result = syn::parse_str::<Args>(&format!("{argument} = {value:?}"));
        let core_result = build(Check::builder("job")).build();
        match (macro_result, core_result) {
            (Ok(_), Ok(_)) => {}
            (Err(m), Err(c)) => {
                let (m, c) = (m.to_string(), c.to_string());
                let c = c.strip_prefix("check \"job\": ").unwrap_or(&c);
                assert_eq!(m, c, "{argument} = {value:?}");
            }
            (m, c) => panic!(
                "{argument} = {value:?}: the macro says {:?}, Check::build says {:?}",
                m.err().map(|e| e.to_string()),
                c.err().map(|e| e.to_string())
            ),
        }
    }

    #[test]
    fn slugs() {
        for slug in [
            "nightly-backup",
            "a",
            "job_2",
            "Nightly Backup",
            "",
            "héllo",
            "a/b",
            &"x".repeat(50),
            &"x".repeat(51),
        ] {
            let macro_result = syn::parse_str::<Args>(&format!("slug = {slug:?}"));
            let core_result = Check::new(slug);
            match (macro_result, core_result) {
                (Ok(_), Ok(_)) => {}
                (Err(m), Err(c)) => assert_eq!(m.to_string(), c.to_string(), "{slug:?}"),
                (m, c) => panic!("{slug:?}: macro {:?}, core {:?}", m.is_ok(), c.is_ok()),
            }
        }
    }

    #[test]
    fn schedules() {
        for cron in [
            "0 3 * * *",
            "*/15 * * * *",
            "0 9-17 * * MON-FRI",
            "0 25 * * *",
            "0 0 3 * * *",
            "@daily",
            "0/15 * * * *",
            "",
            "0 0 L * *",
            "0 0 1 jan,jul sun",
            "0 0 30 2 *",
            "0 0 31 4,6,9,11 *",
        ] {
            agree("schedule", cron, |b| b.schedule(cron));
        }
    }

    #[test]
    fn time_zones() {
        for tz in [
            "Europe/Paris",
            "UTC",
            "America/New_York",
            "paris",
            "Mars/Olympus",
            "utc",
        ] {
            agree("tz", tz, |b| b.timezone(tz));
        }
    }

    #[test]
    fn runbooks() {
        for url in [
            "https://wiki.example.com/runbooks/backup",
            "http://localhost:8080/rb",
            "https://exa mple.com/runbook",
            "wiki/backup",
            "ftp://example.com/rb",
            "https://",
        ] {
            agree("runbook", url, |b| b.runbook(url));
        }
    }

    #[test]
    fn intervals() {
        for (text, secs) in [
            ("5m", 300),
            ("1h", 3600),
            ("90s", 90),
            ("30s", 30),
            ("400d", 400 * 86_400),
        ] {
            agree("every", text, |b| b.every(Duration::from_secs(secs)));
        }
    }
}
