//! UTCTime and GeneralizedTime, as certificates carry them (RFC 5280 4.1.2.5); and (feature
//! `serde`) how every layer writes a duration in JSON ([`seconds`]).
//!
//! Written by hand: `der`'s `DateTime` starts in 1970, but real certificates carry `notBefore`
//! dates from 1950 on (UTCTime) and earlier (GeneralizedTime).

use time::{Date, Month, OffsetDateTime, PrimitiveDateTime, Time, UtcOffset};

use crate::x509::ParseError;
use crate::x509::tlv::{Tlv, tag};

/// Reads a `Time ::= CHOICE { utcTime UTCTime, generalTime GeneralizedTime }`.
///
/// RFC 5280 4.1.2.5.1: UTCTime `YYMMDDHHMMSSZ`, where `YY` of 50 or more means 19YY and less than
/// 50 means 20YY. RFC 5280 4.1.2.5.2: GeneralizedTime `YYYYMMDDHHMMSSZ`. Beyond the profile,
/// certslot also reads what older encoders wrote and X.680 allows: UTCTime without seconds,
/// differential offsets (`+hhmm`, `-hhmm`) instead of `Z`, GeneralizedTime with a fraction of a
/// second, and the leap second `60`.
pub(crate) fn parse_time(tlv: &Tlv<'_>, what: &'static str) -> Result<OffsetDateTime, ParseError> {
    let invalid = || ParseError::InvalidTime {
        offset: tlv.offset,
        what,
        text: String::from_utf8_lossy(tlv.value).into_owned(),
    };
    let text = tlv.value;
    let (year, rest) = match tlv.tag {
        tag::UTC_TIME => {
            let yy = two_digits(text, 0).ok_or_else(invalid)?;
            let year = if yy >= 50 { 1900 + i32::from(yy) } else { 2000 + i32::from(yy) };
            (year, text.get(2..).ok_or_else(invalid)?)
        }
        tag::GENERALIZED_TIME => {
            let hi = two_digits(text, 0).ok_or_else(invalid)?;
            let lo = two_digits(text, 2).ok_or_else(invalid)?;
            (i32::from(hi) * 100 + i32::from(lo), text.get(4..).ok_or_else(invalid)?)
        }
        found => {
            return Err(ParseError::UnexpectedTag {
                offset: tlv.offset,
                what,
                expected: tag::UTC_TIME,
                found,
            });
        }
    };
    let generalized = tlv.tag == tag::GENERALIZED_TIME;
    let month = two_digits(rest, 0).ok_or_else(invalid)?;
    let day = two_digits(rest, 2).ok_or_else(invalid)?;
    let hour = two_digits(rest, 4).ok_or_else(invalid)?;
    let minute = two_digits(rest, 6).ok_or_else(invalid)?;
    let mut pos = 8;
    let mut second = 0;
    if let Some(s) = two_digits(rest, pos) {
        second = s;
        pos += 2;
    }
    let mut nanos: u32 = 0;
    if generalized && matches!(rest.get(pos), Some(b'.' | b',')) {
        pos += 1;
        let digits = rest.get(pos..).unwrap_or_default().iter().take_while(|b| b.is_ascii_digit()).count();
        if digits == 0 {
            return Err(invalid());
        }
        for (i, d) in rest.get(pos..pos + digits).unwrap_or_default().iter().enumerate() {
            if i < 9 {
                nanos += u32::from(d - b'0') * 10u32.pow(8 - u32::try_from(i).unwrap_or(8));
            }
        }
        pos += digits;
    }
    let offset = match rest.get(pos..).unwrap_or_default() {
        b"Z" => UtcOffset::UTC,
        [sign @ (b'+' | b'-'), ..] => {
            let h = two_digits(rest, pos + 1).ok_or_else(invalid)?;
            let m = two_digits(rest, pos + 3).ok_or_else(invalid)?;
            if rest.len() != pos + 5 || h > 23 || m > 59 {
                return Err(invalid());
            }
            let (h, m) = (i8::try_from(h).map_err(|_| invalid())?, i8::try_from(m).map_err(|_| invalid())?);
            let (h, m) = if *sign == b'-' { (-h, -m) } else { (h, m) };
            UtcOffset::from_hms(h, m, 0).map_err(|_| invalid())?
        }
        _ => return Err(invalid()),
    };
    let leap = second == 60;
    let month = Month::try_from(month).map_err(|_| invalid())?;
    let date = Date::from_calendar_date(year, month, day).map_err(|_| invalid())?;
    let time =
        Time::from_hms_nano(hour, minute, if leap { 59 } else { second }, nanos).map_err(|_| invalid())?;
    // `checked_`: a local time in year 9999 with a negative offset is in year 10000 in UTC, which
    // `OffsetDateTime` cannot hold.
    let instant = PrimitiveDateTime::new(date, time)
        .assume_offset(offset)
        .checked_to_offset(UtcOffset::UTC)
        .ok_or_else(invalid)?;
    if leap { instant.checked_add(time::Duration::SECOND).ok_or_else(invalid) } else { Ok(instant) }
}

/// Two ASCII digits at `at` as a number.
fn two_digits(text: &[u8], at: usize) -> Option<u8> {
    match text.get(at..at + 2)? {
        [a @ b'0'..=b'9', b @ b'0'..=b'9'] => Some((a - b'0') * 10 + (b - b'0')),
        _ => None,
    }
}

/// A duration in JSON (feature `serde`): whole seconds, a number (`86400` for a day), truncated
/// toward zero; `#[serde(with = "crate::x509::time::seconds")]`. Instants are RFC 3339 strings,
/// through `time::serde::rfc3339`.
#[cfg(feature = "serde")]
pub(crate) mod seconds {
    use time::Duration;

    pub(crate) fn serialize<S: serde::Serializer>(
        duration: &Duration,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        serializer.serialize_i64(duration.whole_seconds())
    }

    pub(crate) fn deserialize<'de, D: serde::Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Duration, D::Error> {
        <i64 as serde::Deserialize>::deserialize(deserializer).map(Duration::seconds)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    fn parse(tag: u8, text: &str) -> Result<OffsetDateTime, ParseError> {
        let mut raw = vec![tag, u8::try_from(text.len()).unwrap_or(0)];
        raw.extend_from_slice(text.as_bytes());
        let tlv = crate::x509::tlv::Reader::new(&raw).read("t")?;
        parse_time(&tlv, "t")
    }

    #[test]
    fn utc_time_pivots_at_1950() {
        assert_eq!(parse(tag::UTC_TIME, "500101000000Z"), Ok(datetime!(1950-01-01 0:00 UTC)));
        assert_eq!(parse(tag::UTC_TIME, "691231235959Z"), Ok(datetime!(1969-12-31 23:59:59 UTC)));
        assert_eq!(parse(tag::UTC_TIME, "491231235959Z"), Ok(datetime!(2049-12-31 23:59:59 UTC)));
    }

    #[test]
    fn generalized_time_spans_all_years() {
        assert_eq!(parse(tag::GENERALIZED_TIME, "99991231235959Z"), Ok(datetime!(9999-12-31 23:59:59 UTC)));
        assert_eq!(parse(tag::GENERALIZED_TIME, "19491231000000Z"), Ok(datetime!(1949-12-31 0:00 UTC)));
        assert_eq!(
            parse(tag::GENERALIZED_TIME, "20500101000000.25Z"),
            Ok(datetime!(2050-01-01 0:00:00.25 UTC))
        );
    }

    #[test]
    fn reads_old_encoder_forms() {
        assert_eq!(parse(tag::UTC_TIME, "9601010000Z"), Ok(datetime!(1996-01-01 0:00 UTC)));
        assert_eq!(parse(tag::UTC_TIME, "960101120000+0200"), Ok(datetime!(1996-01-01 10:00 UTC)));
        assert_eq!(parse(tag::UTC_TIME, "161231235960Z"), Ok(datetime!(2017-01-01 0:00 UTC)));
    }

    #[test]
    fn an_offset_past_the_last_representable_instant_is_an_error_not_a_panic() {
        // 9999-12-31 23:30 at -01:00 is 10000-01-01 00:30 UTC.
        assert!(matches!(
            parse(tag::GENERALIZED_TIME, "99991231233000-0100"),
            Err(ParseError::InvalidTime { .. })
        ));
        assert_eq!(parse(tag::GENERALIZED_TIME, "99991231223000-0100"), Ok(datetime!(9999-12-31 23:30 UTC)));
        assert_eq!(parse(tag::GENERALIZED_TIME, "00000101003000+0100"), Ok(datetime!(-0001-12-31 23:30 UTC)));
    }

    #[test]
    fn rejects_impossible_dates() {
        for bad in [
            "",
            "5001010000",
            "500230000000Z",
            "501301000000Z",
            "500101250000Z",
            "5001010000000Z",
            "50010100000Z",
        ] {
            assert!(matches!(parse(tag::UTC_TIME, bad), Err(ParseError::InvalidTime { .. })), "{bad:?}");
        }
        assert!(matches!(
            parse(tag::GENERALIZED_TIME, "20500101000000"),
            Err(ParseError::InvalidTime { .. })
        ));
        assert!(matches!(
            parse(tag::GENERALIZED_TIME, "20500101000000.Z"),
            Err(ParseError::InvalidTime { .. })
        ));
    }
}
