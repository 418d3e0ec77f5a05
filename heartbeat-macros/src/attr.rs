//! Parsing and validating `#[job(...)]` arguments.

use proc_macro2::Span;
use syn::parse::{Parse, ParseStream};
use syn::{Ident, LitStr, Token};

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
}

const ARGS: &str = "slug, schedule, every, tz, grace, max_runtime, runbook, priority";

impl Parse for Args {
    fn parse(input: ParseStream<'_>) -> syn::Result<Self> {
        let mut args = Args::default();
        while !input.is_empty() {
            let name: Ident = input.parse()?;
            input.parse::<Token![=]>()?;
            let key = name.to_string();
            let duplicate = || syn::Error::new(name.span(), format!("`{key}` is given twice"));
            match key.as_str() {
                "slug" => set(&mut args.slug, string(input)?, duplicate)?,
                "schedule" => set(&mut args.schedule, string(input)?, duplicate)?,
                "tz" => {
                    let tz = string(input)?;
                    check_tz(&tz)?;
                    set(&mut args.tz, tz, duplicate)?;
                }
                "every" => {
                    let every = duration(input)?;
                    if every.value == 0 || every.value % 60 != 0 {
                        return Err(syn::Error::new(
                            every.span,
                            "`every` must be whole minutes, at least one (e.g. \"5m\", \"1h\")",
                        ));
                    }
                    set(&mut args.every, every, duplicate)?;
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
                    let rest = url
                        .value
                        .strip_prefix("https://")
                        .or_else(|| url.value.strip_prefix("http://"));
                    if rest.is_none_or(|r| r.is_empty() || r.starts_with('/')) {
                        return Err(syn::Error::new(
                            url.span,
                            "`runbook` must be an absolute http:// or https:// URL",
                        ));
                    }
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
    let invalid = || {
        syn::Error::new(
            s.span,
            format!(
                "invalid duration {:?}: use numbers with a unit, s, m, h or d (e.g. \"90s\", \"15m\", \"1h30m\")",
                s.value
            ),
        )
    };
    let mut total: u64 = 0;
    let mut digits = String::new();
    for c in s.value.chars() {
        if c.is_ascii_digit() {
            digits.push(c);
            continue;
        }
        let unit = match c {
            's' => 1,
            'm' => 60,
            'h' => 3600,
            'd' => 86_400,
            _ => return Err(invalid()),
        };
        let n: u64 = digits.parse().map_err(|_| invalid())?;
        total = n
            .checked_mul(unit)
            .and_then(|v| total.checked_add(v))
            .ok_or_else(invalid)?;
        digits.clear();
    }
    if !digits.is_empty() || s.value.is_empty() {
        return Err(invalid());
    }
    Ok(Spanned {
        value: total,
        span: s.span,
    })
}

/// The same check and suggestion as `Check::build` in heartbeat-core: a
/// proc-macro crate cannot call into the crate that re-exports it, and time
/// zones (unlike cron and slugs) have no `const fn` validator to share.
fn check_tz(tz: &Spanned<String>) -> syn::Result<()> {
    if tz.value.parse::<chrono_tz::Tz>().is_ok() {
        return Ok(());
    }
    let wanted = tz.value.replace(' ', "_");
    let names = || chrono_tz::TZ_VARIANTS.iter().map(|t| t.name());
    let suggestion = names()
        .find(|n| n.eq_ignore_ascii_case(&wanted))
        .or_else(|| {
            names().find(|n| {
                n.rsplit('/')
                    .next()
                    .is_some_and(|c| c.eq_ignore_ascii_case(&wanted))
            })
        });
    let hint = suggestion
        .map(|s| format!(" (did you mean {s:?}?)"))
        .unwrap_or_default();
    Err(syn::Error::new(
        tz.span,
        format!(
            "unknown time zone {:?}{hint}; use an IANA name such as \"Europe/Paris\" or \"UTC\"",
            tz.value
        ),
    ))
}
