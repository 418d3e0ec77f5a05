//! Names every process of a fleet derives alike: a check's slug from a
//! worker's name, and a run id from a task id.

use apalis_core::task::task_id::TaskId;
use heartbeat_core::{Check, RunId};
use heartbeat_validate::MAX_SLUG_LEN;

/// The check slug for an apalis worker: its name up to the first `@`
/// (the Redis and Postgres backends need every process's worker to have
/// a name of its own, so name them `job@instance`: `mailer@host-1` and
/// `mailer@host-2` both report to `mailer`), lowercased, every
/// character other than `a-z`, `0-9`, `-` and `_` turned into `-`, and at
/// most 50 characters (Sentry's limit). A longer name keeps its first 41
/// characters and ends with `-` and 8 hex digits of a hash of the whole
/// name, so two long names that share a prefix still get two checks.
///
/// ```
/// use heartbeat_apalis::slug_for_worker;
/// assert_eq!(slug_for_worker("Email Sender"), "email-sender");
/// assert_eq!(slug_for_worker("billing::invoices"), "billing--invoices");
/// assert_eq!(slug_for_worker("mailer@host-7"), "mailer");
/// assert_eq!(slug_for_worker(&"x".repeat(80)).len(), 50);
/// ```
pub fn slug_for_worker(name: &str) -> String {
    let name = match name.split_once('@') {
        Some((job, _)) if !job.is_empty() => job,
        _ => name,
    };
    let mut slug: String = name
        .chars()
        .flat_map(char::to_lowercase)
        .map(|c| {
            if c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_' {
                c
            } else {
                '-'
            }
        })
        .collect();
    if slug.is_empty() {
        return "apalis-worker".to_owned();
    }
    if slug.len() > MAX_SLUG_LEN {
        // Every character is ASCII by now, so byte cuts are char cuts.
        let suffix = format!("-{:08x}", fnv1a(name.as_bytes()) as u32);
        slug.truncate(MAX_SLUG_LEN - suffix.len());
        slug.push_str(&suffix);
    }
    slug
}

/// The check of a worker named `name` (see [`slug_for_worker`]).
pub(crate) fn check_for_worker(name: &str) -> Check {
    Check::new(slug_for_worker(name)).expect("slug_for_worker only makes valid slugs")
}

/// The run id of every attempt of a task: the task id's own 128 bits when
/// it is a ULID or a UUID (what the SQL, Redis and cron backends use), a
/// hash of its text otherwise, so every attempt (and every process) gives
/// the same run id.
pub(crate) fn run_id_for(task_id: &TaskId) -> RunId {
    let text = task_id.to_string();
    if let Some(bits) = ulid_bits(&text) {
        return RunId::from_u128(bits);
    }
    if let Some(bits) = uuid_bits(&text) {
        return RunId::from_u128(bits);
    }
    let high = fnv1a(text.as_bytes());
    let low = fnv1a(&[text.as_bytes(), b"#run"].concat());
    // Marked as a version-8 (custom) UUID, RFC 9562 variant.
    let bits = (u128::from(high) << 64) | u128::from(low);
    let bits = (bits & !(0xf << 76) & !(0x3 << 62)) | (0x8 << 76) | (0x2 << 62);
    RunId::from_u128(bits)
}

/// A ULID's 128 bits: 26 Crockford base-32 characters.
fn ulid_bits(text: &str) -> Option<u128> {
    const ALPHABET: &[u8] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";
    if text.len() != 26 {
        return None;
    }
    let mut bits: u128 = 0;
    for (i, c) in text.bytes().enumerate() {
        let digit = ALPHABET.iter().position(|&a| a == c.to_ascii_uppercase())? as u128;
        // The first character carries only 3 bits (26 × 5 = 130).
        if i == 0 && digit > 7 {
            return None;
        }
        bits = (bits << 5) | digit;
    }
    Some(bits)
}

/// A UUID's 128 bits, hyphenated or not.
fn uuid_bits(text: &str) -> Option<u128> {
    let hex: String = text.chars().filter(|&c| c != '-').collect();
    if hex.len() != 32 || text.len() > 36 {
        return None;
    }
    u128::from_str_radix(&hex, 16).ok()
}

/// 64-bit FNV-1a: stable across processes, platforms and releases (the
/// standard library's hasher promises none of these).
pub(crate) fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, &b| {
        (hash ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs() {
        assert_eq!(slug_for_worker("nightly-report"), "nightly-report");
        assert_eq!(slug_for_worker("Nightly Report!"), "nightly-report-");
        assert_eq!(slug_for_worker("émail"), "-mail");
        assert_eq!(slug_for_worker(""), "apalis-worker");
        let long_a = format!("{}-a", "queue".repeat(12));
        let long_b = format!("{}-b", "queue".repeat(12));
        let (a, b) = (slug_for_worker(&long_a), slug_for_worker(&long_b));
        assert_eq!(a.len(), 50);
        assert_ne!(a, b, "a cut name keeps a hash of the whole name");
        assert_eq!(a, slug_for_worker(&long_a), "stable");
        for slug in [a, b, slug_for_worker("A.b/c d")] {
            heartbeat_validate::slug(&slug).unwrap();
        }
    }

    #[test]
    fn run_ids() {
        let ulid: TaskId = TaskId::String("01ARZ3NDEKTSV4RRFFQ69G5FAV".into());
        assert_eq!(
            run_id_for(&ulid).as_u128(),
            0x0156_3e3a_b5d3_d676_4c61_efb9_9302_bd5b,
            "a ULID's own bits"
        );
        let uuid = TaskId::String("67e55044-10b1-426f-9247-bb680e5fe0c8".into());
        assert_eq!(
            run_id_for(&uuid).as_u128(),
            0x67e5_5044_10b1_426f_9247_bb68_0e5f_e0c8
        );
        let a = run_id_for(&TaskId::Int(42));
        assert_eq!(a, run_id_for(&TaskId::Int(42)), "stable");
        assert_ne!(a, run_id_for(&TaskId::Int(43)));
        assert_eq!((a.as_u128() >> 76) & 0xf, 8, "a version-8 UUID");
    }
}
