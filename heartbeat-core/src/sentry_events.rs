//! [`SentryEvents`]: failed runs as Sentry events, through the
//! application's own Sentry client (feature `sentry`).

use sentry::protocol::{Attachment, Context, Event, Level};

use crate::check::Check;
use crate::hooks::{FinishHook, RunFinish, RunStart, StartHook};
use crate::outcome::Outcome;
use crate::schedule::Priority;

/// A finish hook that reports every failed run to Sentry, through the
/// Sentry client of the job's thread (the hub `sentry::init` bound), so the
/// application's scope, integrations and `before_send` apply:
///
/// - the exception with its source chain (`sentry::event_from_error` on
///   the run's typed error), or the failure message (an exit status, a
///   `fail_message`);
/// - tags `job` (the slug), `run_id`, `priority`, `attempt`;
/// - a fingerprint per job and error type, so one broken job is one issue;
/// - the runbook in a `runbook` context; the level from the priority (P1
///   fatal, P2 error, P3 warning);
/// - the run's log tail as an attachment named `run.log`.
///
/// As a start hook it sets the run's tags on the thread's Sentry scope for
/// the run's duration, so that an event captured meanwhile (sentry's panic
/// integration's, your own `capture_error`) carries them; a panic is then
/// left to the panic integration when the client has it, so it is
/// reported once. (Scopes are per thread: an async run that moves between
/// threads, or interleaves with others on one, tags what runs there.) With
/// no Sentry client, it does nothing.
///
/// [`MonitorBuilder::sentry_events`](crate::MonitorBuilder::sentry_events)
/// registers it as both hooks:
///
/// ```no_run
/// use heartbeat_core::{Monitor, SentryCrons};
/// let monitor = Monitor::builder()
///     .target(SentryCrons::new())
///     .sentry_events()
///     .build()?;
/// # Ok::<(), heartbeat_core::ConfigError>(())
/// ```
#[derive(Debug, Clone, Default)]
pub struct SentryEvents {
    _private: (),
}

impl SentryEvents {
    /// The hook.
    pub fn new() -> Self {
        Self::default()
    }
}

/// Sentry's level for a failure of this priority.
fn level(priority: Priority) -> Level {
    match priority {
        Priority::P1 => Level::Fatal,
        Priority::P2 => Level::Error,
        Priority::P3 => Level::Warning,
    }
}

/// The tags a run puts on events: `job`, `run_id`, `priority`, `attempt`.
fn run_tags(check: &Check, run_id: String, attempt: u32) -> [(&'static str, String); 4] {
    [
        ("job", check.slug().to_owned()),
        ("run_id", run_id),
        ("priority", check.priority().as_str().to_owned()),
        ("attempt", attempt.to_string()),
    ]
}

/// Marks `event` as heartbeat's, about a run of `check`: its logger, one
/// fingerprint per job and `kind` (so one broken job is one issue), and
/// `tags`. Failure events and the max-runtime warning share it.
pub(crate) fn describe_run(
    event: &mut Event<'static>,
    check: &Check,
    kind: &str,
    tags: &[(&'static str, String)],
) {
    event.logger = Some("heartbeat".into());
    event.fingerprint = vec![
        "heartbeat".into(),
        check.slug().to_owned().into(),
        kind.to_owned().into(),
    ]
    .into();
    for (tag, value) in tags {
        event.tags.insert((*tag).to_owned(), value.clone());
    }
}

impl StartHook for SentryEvents {
    fn on_start(&self, run: &mut RunStart<'_>) {
        let tags = run_tags(run.check(), run.run_id().to_string(), run.attempt());
        sentry::Hub::current().configure_scope(|scope| {
            for (tag, value) in tags {
                scope.set_tag(tag, value);
            }
        });
    }
}

impl FinishHook for SentryEvents {
    fn on_finish(&self, run: &RunFinish<'_>) {
        // The run is over: its tags leave the thread's scope.
        let tags = run_tags(run.check(), run.run_id().to_string(), run.attempt());
        sentry::Hub::current().configure_scope(|scope| {
            for (tag, _) in &tags {
                scope.remove_tag(tag);
            }
        });
        let reason = match run.outcome() {
            Outcome::Failure(reason) => reason.clone(),
            Outcome::ExitCode(code) if *code != 0 => format!("exited with status {code}"),
            _ => return,
        };
        let hub = sentry::Hub::current();
        let Some(client) = hub.client() else { return };
        let panic_integration = client
            .options()
            .integrations
            .iter()
            .any(|i| i.name() == "panic");
        if run.panic_message().is_some() && panic_integration {
            return;
        }
        let check = run.check();
        let mut event = match run.error() {
            Some(error) => sentry::event_from_error(error),
            None => Event {
                message: Some(format!("{}: {reason}", check.slug())),
                ..Event::default()
            },
        };
        let kind = event
            .exception
            .last()
            .map_or_else(|| "message".to_owned(), |e| e.ty.clone());
        event.level = level(check.priority());
        describe_run(&mut event, check, &kind, &tags);
        if let Some(url) = check.runbook() {
            let mut runbook = std::collections::BTreeMap::new();
            runbook.insert("url".to_owned(), url.into());
            event
                .contexts
                .insert("runbook".into(), Context::Other(runbook));
        }
        let log = run.log();
        hub.with_scope(
            |scope| {
                if !log.is_empty() {
                    scope.add_attachment(Attachment {
                        buffer: log.to_vec(),
                        filename: "run.log".into(),
                        content_type: Some("text/plain".into()),
                        ..Attachment::default()
                    });
                }
            },
            || hub.capture_event(event),
        );
    }
}
