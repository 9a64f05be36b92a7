//! How instants read in text meant for people: whole seconds in UTC, and "just after" a second
//! for an instant that lies a fraction of a second past it.

use core::fmt;

use time::{OffsetDateTime, UtcOffset};

/// An instant as certslot writes it for people: RFC 3339 in UTC to the whole second, with the
/// words `just after` in front when the instant lies a fraction of a second past that second.
///
/// | instant                                 | displayed as                      |
/// |-----------------------------------------|-----------------------------------|
/// | `2036-01-01 00:00:00 UTC`               | `2036-01-01T00:00:00Z`            |
/// | `2036-01-01 00:00:00.000000001 UTC`     | `just after 2036-01-01T00:00:00Z` |
/// | `2026-11-25 13:36:02.5 UTC`             | `just after 2026-11-25T13:36:02Z` |
/// | `2026-11-25 14:36:02 +01:00`            | `2026-11-25T13:36:02Z`            |
///
/// The store schedules what happens when a certificate expires one nanosecond after its
/// `notAfter` (RFC 5280 4.1.2.5: the certificate is still valid at `notAfter` itself); those
/// instants read `just after 2036-01-01T00:00:00Z` instead of `2036-01-01T00:00:00.000000001Z`.
/// Every instant in the `Display` of [`Violation`](crate::validate::Violation),
/// [`Warning`](crate::validate::Warning) and [`Event`](crate::Event) is written this way, and so are the
/// instants the `roll` and `import` examples print. Output for machines keeps full precision:
/// the store's JSON state and the `inspect` example's JSON carry RFC 3339 with the fraction.
///
/// An instant whose date in UTC is out of `time`'s range is written in its own offset,
/// `9999-12-31T23:30:00-01:00`, with the same rule for fractions.
///
/// ```
/// use certslot::validate::HumanTime;
/// use time::macros::datetime;
///
/// let not_after = datetime!(2036-01-01 0:00 UTC);
/// assert_eq!(HumanTime(not_after).to_string(), "2036-01-01T00:00:00Z");
/// let expired = not_after + time::Duration::NANOSECOND;
/// assert_eq!(format!("expired {}", HumanTime(expired)), "expired just after 2036-01-01T00:00:00Z");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct HumanTime(pub OffsetDateTime);

impl fmt::Display for HumanTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let t = self.0.checked_to_offset(UtcOffset::UTC).unwrap_or(self.0);
        if t.nanosecond() != 0 {
            f.write_str("just after ")?;
        }
        write!(
            f,
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}",
            t.year(),
            u8::from(t.month()),
            t.day(),
            t.hour(),
            t.minute(),
            t.second()
        )?;
        let offset = t.offset();
        if offset.is_utc() {
            f.write_str("Z")
        } else {
            let sign = if offset.is_negative() { '-' } else { '+' };
            write!(
                f,
                "{sign}{:02}:{:02}",
                offset.whole_hours().unsigned_abs(),
                offset.minutes_past_hour().unsigned_abs()
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use time::Duration;
    use time::macros::datetime;

    use super::HumanTime;

    fn human(t: time::OffsetDateTime) -> String {
        HumanTime(t).to_string()
    }

    #[test]
    fn a_whole_second_is_rfc_3339_utc() {
        assert_eq!(human(datetime!(2036-01-01 0:00 UTC)), "2036-01-01T00:00:00Z");
        assert_eq!(human(datetime!(2026-11-25 13:36:02 UTC)), "2026-11-25T13:36:02Z");
    }

    #[test]
    fn one_nanosecond_after_a_second_is_just_after_it() {
        let expired = datetime!(2036-01-01 0:00 UTC) + Duration::NANOSECOND;
        assert_eq!(human(expired), "just after 2036-01-01T00:00:00Z");
    }

    #[test]
    fn a_mid_second_instant_is_just_after_the_second_it_falls_in() {
        assert_eq!(human(datetime!(2026-11-25 13:36:02.5 UTC)), "just after 2026-11-25T13:36:02Z");
        assert_eq!(human(datetime!(2026-11-25 13:36:02.999_999_999 UTC)), "just after 2026-11-25T13:36:02Z");
    }

    #[test]
    fn other_offsets_are_written_in_utc() {
        assert_eq!(human(datetime!(2026-11-25 14:36:02 +01:00)), "2026-11-25T13:36:02Z");
        assert_eq!(human(datetime!(2026-11-25 8:06:02.25 -05:30)), "just after 2026-11-25T13:36:02Z");
    }

    #[test]
    fn before_1970_and_after_2049() {
        assert_eq!(human(datetime!(1950-01-01 0:00 UTC)), "1950-01-01T00:00:00Z");
        assert_eq!(human(datetime!(9999-12-31 23:59:59 UTC)), "9999-12-31T23:59:59Z");
    }

    #[test]
    fn an_instant_whose_utc_date_is_out_of_range_keeps_its_offset() {
        assert_eq!(human(datetime!(9999-12-31 23:30 -01:00)), "9999-12-31T23:30:00-01:00");
        assert_eq!(human(datetime!(9999-12-31 23:30:00.1 -01:00)), "just after 9999-12-31T23:30:00-01:00");
    }
}
