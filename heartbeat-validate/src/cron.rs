//! Standard 5-field cron expressions.

const FIELD_RANGES: [(u32, u32); 5] = [(0, 59), (0, 23), (1, 31), (1, 12), (0, 7)];

/// Messages per field, indexed by [`Problem`].
macro_rules! field_messages {
    ($name:literal, $range:literal) => {
        [
            concat!("the ", $name, " field has a value outside ", $range),
            concat!(
                "the ",
                $name,
                " field has an empty item (a doubled or trailing comma?)"
            ),
            concat!(
                "the ",
                $name,
                " field has a range whose start is after its end"
            ),
            concat!(
                "the ",
                $name,
                " field has a step of 0 or larger than its range"
            ),
            concat!(
                "the ",
                $name,
                " field has a character cron does not allow here; use digits, '*', ',', '-', '/'",
                " (and JAN-DEC, SUN-SAT in the month and weekday fields)"
            ),
            concat!(
                "the ",
                $name,
                " field has a step on a single value (like 0/15); write */15 or 0-59/15"
            ),
        ]
    };
}

const MESSAGES: [[&str; 6]; 5] = [
    field_messages!("minute (1st)", "0-59"),
    field_messages!("hour (2nd)", "0-23"),
    field_messages!("day-of-month (3rd)", "1-31"),
    field_messages!("month (4th)", "1-12"),
    field_messages!("day-of-week (5th)", "0-7"),
];

#[derive(Clone, Copy)]
enum Problem {
    OutOfRange = 0,
    EmptyItem = 1,
    BackwardRange = 2,
    BadStep = 3,
    BadChar = 4,
    StepOnValue = 5,
}

const EMPTY: &str = "the cron expression is empty";
const TOO_FEW: &str = "a cron expression needs exactly 5 fields (minute hour day-of-month month \
                       day-of-week), e.g. \"0 3 * * *\" for 03:00 every day";
const TOO_MANY: &str = "a cron expression has exactly 5 fields (minute hour day-of-month month \
                        day-of-week); a seconds or year field is not understood by Healthchecks, \
                        Cronitor or Sentry Crons";
const NICKNAME: &str = "cron nicknames like @daily are not understood by every service; write the \
                        5 fields, e.g. \"0 0 * * *\" for @daily or \"0 * * * *\" for @hourly";

/// Checks a standard 5-field cron expression; `Err` is a message naming the
/// problem and how to fix it. Names (`JAN`, `mon`) are accepted in the month
/// and weekday fields, 7 means Sunday; `L`, `W`, `#`, `?` and nicknames are
/// rejected because not every service understands them.
pub fn cron(expr: &str) -> Result<(), &'static str> {
    syntax(expr)?;
    if no_such_day(expr) {
        return Err(NO_SUCH_DAY);
    }
    Ok(())
}

const NO_SUCH_DAY: &str = "the day-of-month (3rd) field names no day that the month (4th) field's \
                           months have (like 30 February or 31 April), so the job would never \
                           run; Healthchecks rejects it too";

/// Days in each month, February counted as 29 (as cron and Healthchecks do).
const DAYS_IN_MONTH: [u32; 12] = [31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

/// Whether a syntactically valid expression asks for a day that none of
/// its months has. Healthchecks' parser (cronsim up to 2.7) rejects these
/// whatever the day-of-week field says, so this does too.
fn no_such_day(expr: &str) -> bool {
    let fields: Vec<&str> = expr.split_whitespace().collect();
    let days = values(fields[2], 2);
    let months = values(fields[3], 3);
    let first_day = (1..=31).find(|&d| days[d as usize]).unwrap_or(1);
    let longest = (1..=12)
        .filter(|&m| months[m as usize])
        .map(|m| DAYS_IN_MONTH[m as usize - 1])
        .max()
        .unwrap_or(31);
    first_day > longest
}

/// The values a (valid) field selects, as flags indexed by value.
fn values(field: &str, index: usize) -> [bool; 64] {
    let (min, max) = FIELD_RANGES[index];
    let mut set = [false; 64];
    for item in field.split(',') {
        let (range, step) = match item.split_once('/') {
            Some((range, step)) => (range, step.parse().unwrap_or(1)),
            None => (item, 1),
        };
        let b = range.as_bytes();
        let (lo, hi) = if range == "*" {
            (min, max)
        } else {
            let (lo, after) = value(b, 0, b.len(), index).unwrap_or((min, b.len()));
            if after < b.len() {
                let hi = value(b, after + 1, b.len(), index).map_or(max, |(v, _)| v);
                (lo, hi)
            } else {
                (lo, lo)
            }
        };
        let mut v = lo;
        while v <= hi && (v as usize) < set.len() {
            set[v as usize] = true;
            v += step.max(1);
        }
    }
    set
}

/// Checks the syntax of each field; see [`cron`].
const fn syntax(expr: &str) -> Result<(), &'static str> {
    let b = expr.as_bytes();
    let mut i = 0;
    let mut field = 0;
    while i < b.len() {
        while i < b.len() && b[i].is_ascii_whitespace() {
            i += 1;
        }
        if i == b.len() {
            break;
        }
        let start = i;
        while i < b.len() && !b[i].is_ascii_whitespace() {
            i += 1;
        }
        if b[start] == b'@' {
            return Err(NICKNAME);
        }
        if field == 5 {
            return Err(TOO_MANY);
        }
        if let Err(p) = check_field(b, start, i, field) {
            return Err(MESSAGES[field][p as usize]);
        }
        field += 1;
    }
    match field {
        0 => Err(EMPTY),
        1..=4 => Err(TOO_FEW),
        _ => Ok(()),
    }
}

const fn check_field(b: &[u8], start: usize, end: usize, field: usize) -> Result<(), Problem> {
    let mut i = start;
    loop {
        let item = i;
        while i < end && b[i] != b',' {
            i += 1;
        }
        if let Err(p) = check_item(b, item, i, field) {
            return Err(p);
        }
        if i == end {
            return Ok(());
        }
        i += 1;
        if i == end {
            return Err(Problem::EmptyItem);
        }
    }
}

const fn check_item(b: &[u8], start: usize, end: usize, field: usize) -> Result<(), Problem> {
    if start == end {
        return Err(Problem::EmptyItem);
    }
    let (min, max) = FIELD_RANGES[field];
    let mut slash = start;
    while slash < end && b[slash] != b'/' {
        slash += 1;
    }
    let mut is_range = true;
    let (lo, hi) = if slash - start == 1 && b[start] == b'*' {
        (min, max)
    } else {
        let (lo, after) = match value(b, start, slash, field) {
            Ok(v) => v,
            Err(p) => return Err(p),
        };
        if after == slash {
            is_range = false;
            (lo, lo)
        } else if b[after] == b'-' {
            let (hi, after) = match value(b, after + 1, slash, field) {
                Ok(v) => v,
                Err(p) => return Err(p),
            };
            if after != slash {
                return Err(Problem::BadChar);
            }
            (lo, hi)
        } else {
            return Err(Problem::BadChar);
        }
    };
    if lo < min || hi > max {
        return Err(Problem::OutOfRange);
    }
    if lo > hi {
        return Err(Problem::BackwardRange);
    }
    if slash < end {
        if !is_range {
            return Err(Problem::StepOnValue);
        }
        let (step, after) = match number(b, slash + 1, end) {
            Some(v) => v,
            None => return Err(Problem::BadChar),
        };
        if after != end {
            return Err(Problem::BadChar);
        }
        if step == 0 || step > max - min + 1 {
            return Err(Problem::BadStep);
        }
    }
    Ok(())
}

/// A number, or a month/weekday name where the field allows one; returns
/// the value and the index after it.
const fn value(b: &[u8], start: usize, end: usize, field: usize) -> Result<(u32, usize), Problem> {
    if let Some(v) = number(b, start, end) {
        return Ok(v);
    }
    if start + 3 <= end && (field == 3 || field == 4) {
        let names: &[[u8; 3]] = if field == 3 {
            &[
                *b"JAN", *b"FEB", *b"MAR", *b"APR", *b"MAY", *b"JUN", *b"JUL", *b"AUG", *b"SEP",
                *b"OCT", *b"NOV", *b"DEC",
            ]
        } else {
            &[
                *b"SUN", *b"MON", *b"TUE", *b"WED", *b"THU", *b"FRI", *b"SAT",
            ]
        };
        let mut n = 0;
        while n < names.len() {
            if b[start].eq_ignore_ascii_case(&names[n][0])
                && b[start + 1].eq_ignore_ascii_case(&names[n][1])
                && b[start + 2].eq_ignore_ascii_case(&names[n][2])
            {
                let base = if field == 3 { 1 } else { 0 };
                return Ok((n as u32 + base, start + 3));
            }
            n += 1;
        }
    }
    Err(Problem::BadChar)
}

/// A run of digits; more than 4 saturate (out of range for every field).
const fn number(b: &[u8], start: usize, end: usize) -> Option<(u32, usize)> {
    let mut i = start;
    let mut v: u32 = 0;
    while i < end && b[i].is_ascii_digit() {
        v = if i - start < 4 {
            v * 10 + (b[i] - b'0') as u32
        } else {
            u32::MAX
        };
        i += 1;
    }
    if i == start { None } else { Some((v, i)) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_standard_expressions() {
        for e in [
            "* * * * *",
            "0 3 * * *",
            "*/15 * * * *",
            "0 9-17/2 * * MON-FRI",
            "30 4 1,15 * 5",
            "0 0 1 jan,jul sun",
            "0 0 * * 7",
            "  5   4  *  *  *  ",
            "0-59/59 0 31 12 0-7",
        ] {
            assert_eq!(cron(e), Ok(()), "{e}");
        }
    }

    #[test]
    fn rejects_with_a_precise_reason() {
        for (e, needle) in [
            ("", "empty"),
            ("0 3 * *", "exactly 5 fields"),
            ("0 0 3 * * *", "seconds or year"),
            ("@daily", "nicknames"),
            ("60 * * * *", "minute (1st) field has a value outside 0-59"),
            ("0 24 * * *", "hour (2nd) field has a value outside 0-23"),
            (
                "0 0 0 * *",
                "day-of-month (3rd) field has a value outside 1-31",
            ),
            ("0 0 * 13 *", "month (4th) field has a value outside 1-12"),
            (
                "0 0 * * 8",
                "day-of-week (5th) field has a value outside 0-7",
            ),
            ("0 0 * * MON-", "day-of-week (5th) field has a character"),
            ("5-1 * * * *", "start is after its end"),
            ("*/0 * * * *", "step of 0"),
            ("*/61 * * * *", "step of 0 or larger"),
            ("1,,2 * * * *", "empty item"),
            ("1, * * * *", "empty item"),
            ("0/15 * * * *", "write */15"),
            ("0 0 L * *", "character cron does not allow"),
            ("0 0 * * 1#2", "character cron does not allow"),
            ("0 0 * FOO *", "month (4th) field has a character"),
            ("0 0 * * JAN", "day-of-week (5th) field has a character"),
            ("99999 * * * *", "outside 0-59"),
            ("0 0 30 2 *", "30 February"),
            ("0 0 31 4,6,9,11 *", "names no day"),
            ("0 0 31 2 1", "names no day"),
        ] {
            let err = cron(e).expect_err(e);
            assert!(err.contains(needle), "{e:?}: {err}");
        }
    }
}
