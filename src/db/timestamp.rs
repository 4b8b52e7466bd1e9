//! Reading stored timestamps quickly. Diesel reads a SQLite timestamp by
//! trying up to eighteen chrono patterns in turn, which was a sixth of the
//! time of a list with timestamps. syncd itself always stores
//! `YYYY-MM-DD HH:MM:SS` (UTC, whole seconds), so that form is read digit by
//! digit, and anything else still goes through Diesel's own parser.

use chrono::{NaiveDate, NaiveDateTime};
use diesel::deserialize::{self, FromSql};
use diesel::pg::Pg;
use diesel::sql_types::Timestamp;
use diesel::sqlite::Sqlite;

use crate::db::MultiBackend;

/// A timestamp column as read from the database; models keep the
/// [`NaiveDateTime`] inside (`#[diesel(deserialize_as = Stamp)]`).
#[derive(diesel::deserialize::FromSqlRow)]
pub struct Stamp(NaiveDateTime);

impl From<Stamp> for NaiveDateTime {
    fn from(stamp: Stamp) -> NaiveDateTime {
        stamp.0
    }
}

impl FromSql<Timestamp, Sqlite> for Stamp {
    fn from_sql(
        mut value: <Sqlite as diesel::backend::Backend>::RawValue<'_>,
    ) -> deserialize::Result<Self> {
        if let Some(at) = parse_plain(value.read_text().as_bytes()) {
            return Ok(Stamp(at));
        }
        <NaiveDateTime as FromSql<Timestamp, Sqlite>>::from_sql(value).map(Stamp)
    }
}

impl FromSql<Timestamp, Pg> for Stamp {
    // PostgreSQL sends timestamps as binary microseconds: nothing to speed up.
    fn from_sql(
        value: <Pg as diesel::backend::Backend>::RawValue<'_>,
    ) -> deserialize::Result<Self> {
        <NaiveDateTime as FromSql<Timestamp, Pg>>::from_sql(value).map(Stamp)
    }
}

impl FromSql<Timestamp, MultiBackend> for Stamp {
    fn from_sql(
        value: <MultiBackend as diesel::backend::Backend>::RawValue<'_>,
    ) -> deserialize::Result<Self> {
        value.from_sql::<Self, Timestamp>()
    }
}

/// `YYYY-MM-DD HH:MM:SS` exactly, or `None` for any other text (including
/// an impossible date, which the fallback then reports).
fn parse_plain(text: &[u8]) -> Option<NaiveDateTime> {
    let t: &[u8; 19] = text.try_into().ok()?;
    if t[4] != b'-' || t[7] != b'-' || t[10] != b' ' || t[13] != b':' || t[16] != b':' {
        return None;
    }
    let num = |from: usize, to: usize| -> Option<u32> {
        t[from..to].iter().try_fold(0u32, |n, &b| {
            b.is_ascii_digit().then(|| n * 10 + u32::from(b - b'0'))
        })
    };
    NaiveDate::from_ymd_opt(num(0, 4)? as i32, num(5, 7)?, num(8, 10)?)?.and_hms_opt(
        num(11, 13)?,
        num(14, 16)?,
        num(17, 19)?,
    )
}

#[cfg(test)]
mod tests {
    use super::parse_plain;
    use chrono::NaiveDateTime;

    #[test]
    fn reads_the_stored_form_and_leaves_the_rest_to_diesel() {
        let expect = NaiveDateTime::parse_from_str("2008-01-08 03:47:52", "%Y-%m-%d %H:%M:%S");
        assert_eq!(parse_plain(b"2008-01-08 03:47:52"), expect.ok());
        assert_eq!(
            parse_plain(b"0001-12-31 23:59:59"),
            NaiveDateTime::parse_from_str("0001-12-31 23:59:59", "%Y-%m-%d %H:%M:%S").ok()
        );
        for other in [
            &b"2008-01-08 03:47:52.5"[..],
            b"2008-01-08T03:47:52",
            b"2008-02-30 03:47:52",
            b"2008-01-08 24:00:00",
            b"2008-01-0x 03:47:52",
            b"+008-01-08 03:47:52",
            b"",
        ] {
            assert_eq!(
                parse_plain(other),
                None,
                "{}",
                String::from_utf8_lossy(other)
            );
        }
    }
}
