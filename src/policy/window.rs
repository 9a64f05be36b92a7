//! Renewal windows: the recurring times of the week in which unattended renewals and rolls may
//! happen ("weekdays 02:00–05:00 at UTC+01:00"), what operators ask of cert-manager and what
//! change-managed estates require. Part of a [`RolloverPolicy`](crate::RolloverPolicy).
//!
//! A window opens on each of its days at its start time, in its own fixed UTC offset (no
//! daylight-saving rules: the offset is the operator's statement of which clock is meant), and
//! stays open for its length, at most a day; a window may run past midnight into the next day.
//! Instants are inside a window from its opening (inclusive) to its end (exclusive).
//!
//! Text form (the state, the fleet's command line): `DAYS HH:MM-HH:MM [OFFSET]`, for example
//! `Mon-Fri 02:00-05:00 +01:00`, `Sat,Sun 22:00-02:00 UTC`, `daily 03:00-04:00`. Days are
//! `Mon` … `Sun`, ranges (`Mon-Fri`, `Fri-Mon` wraps) and lists of them, or `daily`; an end at or
//! before the start ends the next day (`00:00-00:00` is the whole day); the offset is `UTC`, `Z`
//! or `±HH:MM` (UTC when left out).

use core::fmt;
use core::str::FromStr;

use time::{Date, Duration, OffsetDateTime, Time, UtcOffset, Weekday};

/// A set of days of the week.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Weekdays(u8);

const DAY_NAMES: [&str; 7] = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];

impl Weekdays {
    /// Every day.
    pub const ALL: Self = Self(0x7f);
    /// Monday to Friday.
    pub const WORKDAYS: Self = Self(0x1f);
    /// Saturday and Sunday.
    pub const WEEKEND: Self = Self(0x60);

    /// No day.
    pub const fn empty() -> Self {
        Self(0)
    }

    /// This set and `day`.
    pub const fn with(self, day: Weekday) -> Self {
        Self(self.0 | 1 << day.number_days_from_monday())
    }

    /// Whether `day` is in the set.
    pub const fn contains(self, day: Weekday) -> bool {
        self.0 & 1 << day.number_days_from_monday() != 0
    }

    /// Whether the set is empty.
    pub const fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// The days, Monday first.
    pub fn iter(self) -> impl Iterator<Item = Weekday> {
        (0..7u8).filter(move |i| self.0 & 1 << i != 0).map(weekday)
    }
}

fn weekday(days_from_monday: u8) -> Weekday {
    Weekday::Monday.nth_next(days_from_monday)
}

/// Why a renewal window was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum WindowError {
    /// A window on no day.
    #[error("a renewal window needs at least one day")]
    NoDays,
    /// A length of zero or more than a day.
    #[error("a renewal window lasts more than nothing and at most a day, not {0}")]
    BadLength(Duration),
    /// The text form does not read.
    #[error("renewal window {text:?}: {reason} (expected e.g. \"Mon-Fri 02:00-05:00 +01:00\")")]
    Syntax {
        /// The text.
        text: String,
        /// What is wrong with it.
        reason: &'static str,
    },
}

/// A recurring renewal window: the times of the week in which unattended renewals and rolls may
/// happen. It opens on each of its days at its start time, in its own fixed UTC offset (no
/// daylight-saving rules), and stays open for its length, at most a day (past midnight into the
/// next day if need be); an instant is inside from the opening (inclusive) to the end
/// (exclusive). Text form: `DAYS HH:MM-HH:MM [OFFSET]` (`Mon-Fri 02:00-05:00 +01:00`,
/// `Sat,Sun 22:00-02:00 UTC`, `daily 03:00-04:00`): days `Mon` … `Sun`, ranges and lists of them,
/// or `daily`; an end at or before the start ends the next day; the offset `UTC`, `Z` or
/// `±HH:MM` (UTC when left out).
///
/// ```
/// use certslot::policy::RenewalWindow;
/// use time::macros::datetime;
///
/// let window: RenewalWindow = "Mon-Fri 02:00-05:00 +01:00".parse()?;
/// // Friday 2027-01-08, 03:30 at UTC+01:00 is inside.
/// assert!(window.contains(datetime!(2027-01-08 02:30 UTC)));
/// // Friday 05:00 (+01:00) is past it; the next opening is Monday 02:00 (+01:00).
/// assert_eq!(window.next_open(datetime!(2027-01-08 04:00 UTC)), Some(datetime!(2027-01-11 01:00 UTC)));
/// // The longest time outside: Friday 05:00 to Monday 02:00.
/// assert_eq!(window.longest_closed(), time::Duration::hours(69));
/// assert_eq!(window.to_string(), "Mon-Fri 02:00-05:00 +01:00");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct RenewalWindow {
    days: Weekdays,
    start: Time,
    length: Duration,
    offset: UtcOffset,
}

impl RenewalWindow {
    /// A window opening on `days` at `start` (in `offset`) for `length`.
    ///
    /// # Errors
    /// [`WindowError::NoDays`], or [`WindowError::BadLength`] for a length of zero or over a day.
    pub fn new(
        days: Weekdays,
        start: Time,
        length: Duration,
        offset: UtcOffset,
    ) -> Result<Self, WindowError> {
        if days.is_empty() {
            return Err(WindowError::NoDays);
        }
        if !length.is_positive() || length > Duration::DAY {
            return Err(WindowError::BadLength(length));
        }
        Ok(Self { days, start, length, offset })
    }

    /// The days it opens on (in its offset).
    pub const fn days(&self) -> Weekdays {
        self.days
    }

    /// When it opens (in its offset).
    pub const fn start(&self) -> Time {
        self.start
    }

    /// How long it stays open.
    pub const fn length(&self) -> Duration {
        self.length
    }

    /// The UTC offset of its clock.
    pub const fn offset(&self) -> UtcOffset {
        self.offset
    }

    /// The window opening on `date` (in the window's offset), as an instant in UTC.
    fn opening(&self, date: Date) -> OffsetDateTime {
        date.with_time(self.start).assume_offset(self.offset).to_offset(UtcOffset::UTC)
    }

    /// The openings from `days.start()` to `days.end()` days after the local date of `t`, in
    /// order, on the window's days; `None` near the ends of the calendar.
    fn openings(
        &self,
        t: OffsetDateTime,
        days: core::ops::RangeInclusive<i64>,
    ) -> impl DoubleEndedIterator<Item = Option<OffsetDateTime>> + '_ {
        let local = t.checked_to_offset(self.offset).map(|t| t.date());
        days.filter_map(move |k| match local.and_then(|d| d.checked_add(Duration::days(k))) {
            Some(date) if self.days.contains(date.weekday()) => Some(Some(self.opening(date))),
            Some(_) => None,
            None => Some(None),
        })
    }

    /// Whether `t` is inside a window.
    pub fn contains(&self, t: OffsetDateTime) -> bool {
        self.openings(t, -1..=0).flatten().any(|s| s <= t && t - s < self.length)
    }

    /// `t` when it is inside a window, else the next opening (in UTC). `None` only near the ends
    /// of the calendar (years ±9999).
    pub fn next_open(&self, t: OffsetDateTime) -> Option<OffsetDateTime> {
        if self.contains(t) {
            return Some(t);
        }
        self.openings(t, 0..=7).map(|s| s.filter(|s| *s > t)).find(Option::is_some).flatten()
    }

    /// `t` when it is inside a window, else the last instant of the window that ended last
    /// before it (a nanosecond before that window's end). `None` only near the ends of the
    /// calendar.
    pub fn last_open(&self, t: OffsetDateTime) -> Option<OffsetDateTime> {
        if self.contains(t) {
            return Some(t);
        }
        // Every window lasts as long: the latest opening whose window ended by `t` ends last.
        let end = self
            .openings(t, -8..=0)
            .rev()
            .map(|s| s.and_then(|s| s.checked_add(self.length)).filter(|e| *e <= t))
            .find(Option::is_some)
            .flatten()?;
        end.checked_sub(crate::policy::TICK)
    }

    /// The longest span of time outside every window (zero when the windows cover the week).
    pub fn longest_closed(&self) -> Duration {
        // Every window has the same start time and length, so the gap after each is the time to
        // the next one's day, less the length; the last day's next is the first day a week on.
        let starts: Vec<Duration> =
            self.days.iter().map(|d| Duration::days(d.number_days_from_monday().into())).collect();
        let nexts = starts.iter().skip(1).copied().chain(starts.first().map(|s| *s + Duration::WEEK));
        starts.iter().zip(nexts).map(|(s, next)| next - *s - self.length).fold(Duration::ZERO, Duration::max)
    }
}

impl fmt::Display for RenewalWindow {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_days(f, self.days)?;
        let end = self.start + self.length;
        write!(
            f,
            " {:02}:{:02}-{:02}:{:02} ",
            self.start.hour(),
            self.start.minute(),
            end.hour(),
            end.minute()
        )?;
        match self.offset.is_utc() {
            true => f.write_str("UTC"),
            false => {
                let (h, m, _) = self.offset.as_hms();
                let sign = if self.offset.is_negative() { '-' } else { '+' };
                write!(f, "{sign}{:02}:{:02}", h.unsigned_abs(), m.unsigned_abs())
            }
        }
    }
}

/// Days as runs: `daily`, `Mon-Fri`, `Mon,Wed,Fri`, `Sat-Sun`.
fn write_days(f: &mut fmt::Formatter<'_>, days: Weekdays) -> fmt::Result {
    if days == Weekdays::ALL {
        return f.write_str("daily");
    }
    let name = |i: u8| DAY_NAMES.get(usize::from(i)).copied().unwrap_or("?");
    let has = |i: u8| i < 7 && days.0 & 1 << i != 0;
    let mut first = true;
    let mut i = 0;
    while i < 7 {
        if !has(i) {
            i += 1;
            continue;
        }
        let mut j = i;
        while has(j + 1) {
            j += 1;
        }
        if !first {
            f.write_str(",")?;
        }
        first = false;
        match j - i {
            0 => f.write_str(name(i))?,
            _ => write!(f, "{}-{}", name(i), name(j))?,
        }
        i = j + 1;
    }
    Ok(())
}

impl FromStr for RenewalWindow {
    type Err = WindowError;

    fn from_str(text: &str) -> Result<Self, WindowError> {
        let err = |reason| WindowError::Syntax { text: text.to_owned(), reason };
        let mut words = text.split_whitespace();
        let days = parse_days(words.next().ok_or(err("no days"))?).ok_or(err("unknown day"))?;
        let (start, end) = words.next().and_then(|w| w.split_once('-')).ok_or(err("no HH:MM-HH:MM"))?;
        let start = parse_hm(start).ok_or(err("bad start time"))?;
        let end = parse_hm(end).ok_or(err("bad end time"))?;
        let offset = match words.next() {
            None => UtcOffset::UTC,
            Some(w) => parse_offset(w).ok_or(err("bad UTC offset"))?,
        };
        if words.next().is_some() {
            return Err(err("trailing text"));
        }
        let mut length = end - start;
        if !length.is_positive() {
            length += Duration::DAY;
        }
        Self::new(days, start, length, offset)
    }
}

fn parse_days(text: &str) -> Option<Weekdays> {
    if text.eq_ignore_ascii_case("daily") {
        return Some(Weekdays::ALL);
    }
    let day = |name: &str| DAY_NAMES.iter().position(|d| d.eq_ignore_ascii_case(name));
    let mut set = 0u8;
    for part in text.split(',') {
        match part.split_once('-') {
            Some((a, b)) => {
                let (a, b) = (day(a)?, day(b)?);
                let mut i = a;
                loop {
                    set |= 1 << i;
                    if i == b {
                        break;
                    }
                    i = (i + 1) % 7;
                }
            }
            None => set |= 1 << day(part)?,
        }
    }
    Some(Weekdays(set))
}

fn parse_hm(text: &str) -> Option<Time> {
    let (h, m) = text.split_once(':')?;
    if h.len() != 2 || m.len() != 2 {
        return None;
    }
    Time::from_hms(h.parse().ok()?, m.parse().ok()?, 0).ok()
}

fn parse_offset(text: &str) -> Option<UtcOffset> {
    if text.eq_ignore_ascii_case("utc") || text == "Z" {
        return Some(UtcOffset::UTC);
    }
    let (sign, rest) = match text.as_bytes().first()? {
        b'+' => (1, &text[1..]),
        b'-' => (-1, &text[1..]),
        _ => return None,
    };
    let t = parse_hm(rest)?;
    UtcOffset::from_hms(sign * t.hour() as i8, sign * t.minute() as i8, 0).ok()
}

#[cfg(test)]
mod tests {
    use time::macros::{datetime, time};

    use super::*;

    fn w(text: &str) -> RenewalWindow {
        text.parse().unwrap()
    }

    #[test]
    fn text_round_trips_and_refuses_garbage() {
        for text in [
            "Mon-Fri 02:00-05:00 +01:00",
            "Sat-Sun 22:00-02:00 UTC",
            "daily 00:00-00:00 -05:30",
            "Mon,Wed,Fri 12:00-12:30 UTC",
        ] {
            assert_eq!(w(text).to_string(), text);
        }
        assert_eq!(w("fri-mon 22:00-02:00").to_string(), "Mon,Fri-Sun 22:00-02:00 UTC");
        assert_eq!(w("Mon 03:00-04:00 Z").days(), Weekdays::empty().with(Weekday::Monday));
        let daily = w("daily 00:00-00:00");
        assert_eq!(daily.length(), Duration::DAY);
        assert_eq!(daily.longest_closed(), Duration::ZERO);
        for (text, reason) in [
            ("", "no days"),
            ("Mon", "no HH:MM-HH:MM"),
            ("Funday 02:00-03:00", "unknown day"),
            ("Mon 2:00-03:00", "bad start time"),
            ("Mon 02:00-24:00", "bad end time"),
            ("Mon 02:00-03:00 CET", "bad UTC offset"),
            ("Mon 02:00-03:00 UTC x", "trailing text"),
        ] {
            assert_eq!(
                text.parse::<RenewalWindow>(),
                Err(WindowError::Syntax { text: text.into(), reason }),
                "{text}"
            );
        }
        assert_eq!(
            RenewalWindow::new(Weekdays::empty(), time!(02:00), Duration::HOUR, UtcOffset::UTC),
            Err(WindowError::NoDays)
        );
        assert_eq!(
            RenewalWindow::new(Weekdays::ALL, time!(02:00), Duration::hours(25), UtcOffset::UTC),
            Err(WindowError::BadLength(Duration::hours(25)))
        );
    }

    #[test]
    fn openings_and_closings_at_the_edges() {
        // 2027-01-04 is a Monday.
        let window = w("Mon-Fri 02:00-05:00 +01:00");
        assert!(!window.contains(datetime!(2027-01-04 00:59:59.999999999 UTC)));
        assert!(window.contains(datetime!(2027-01-04 01:00 UTC)));
        assert!(window.contains(datetime!(2027-01-04 03:59:59.999999999 UTC)));
        assert!(!window.contains(datetime!(2027-01-04 04:00 UTC)));
        assert_eq!(window.next_open(datetime!(2027-01-04 04:00 UTC)), Some(datetime!(2027-01-05 01:00 UTC)));
        // Instants come out in UTC, whatever the window's offset.
        assert!(window.next_open(datetime!(2027-01-04 04:00 UTC)).is_some_and(|t| t.offset().is_utc()));
        assert_eq!(
            window.last_open(datetime!(2027-01-04 04:00 UTC)),
            Some(datetime!(2027-01-04 03:59:59.999999999 UTC))
        );
        // Saturday: the last opening was Friday's.
        assert_eq!(
            window.last_open(datetime!(2027-01-09 12:00 UTC)),
            Some(datetime!(2027-01-08 03:59:59.999999999 UTC))
        );
        // A window past midnight contains the small hours of the next day.
        let night = w("Sun 22:00-02:00 UTC");
        assert!(night.contains(datetime!(2027-01-04 01:00 UTC)));
        assert_eq!(night.next_open(datetime!(2027-01-04 02:00 UTC)), Some(datetime!(2027-01-10 22:00 UTC)));
        assert_eq!(night.longest_closed(), Duration::days(7) - Duration::hours(4));
    }
}
