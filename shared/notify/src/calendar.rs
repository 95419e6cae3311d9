//! The Swedish business calendar: Europe/Stockholm local time, opening hours and the public
//! holidays of any year (fixed dates, the Easter-based feasts, Midsummer and All Saints).
//!
//! Business hours are 09:00–18:00 on weekdays and 10:00–16:00 on weekends; a holiday
//! (official or de facto: Midsommarafton, Julafton, Nyårsafton) has no business hours at
//! all. Local time comes from the tz database bundled into the binary, so daylight saving
//! transitions are those of the zone and nothing is read from the filesystem.

use jiff::ToSpan;
use jiff::civil::{Date, Weekday};
use jiff::tz::TimeZone;
use tillbridge_domain::Timestamp;

/// The zone of the Swedish deployment.
pub const STOCKHOLM: &str = "Europe/Stockholm";

/// A Swedish public holiday, official or de facto (a day off in practice).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Holiday {
    /// 1 January.
    Nyarsdagen,
    /// 6 January.
    TrettondedagJul,
    /// Good Friday (Easter − 2).
    Langfredagen,
    /// Easter Sunday.
    Paskdagen,
    /// Easter Monday (Easter + 1).
    AnnandagPask,
    /// 1 May.
    ForstaMaj,
    /// Ascension (Easter + 39).
    KristiHimmelsfardsdag,
    /// Pentecost (Easter + 49).
    Pingstdagen,
    /// 6 June.
    Nationaldagen,
    /// The Friday before Midsommardagen (de facto).
    Midsommarafton,
    /// The Saturday between 20 and 26 June.
    Midsommardagen,
    /// The Saturday between 31 October and 6 November.
    AllaHelgonsDag,
    /// 24 December (de facto).
    Julafton,
    /// 25 December.
    Juldagen,
    /// 26 December.
    AnnandagJul,
    /// 31 December (de facto).
    Nyarsafton,
}

impl Holiday {
    /// The Swedish name.
    pub fn name(self) -> &'static str {
        match self {
            Holiday::Nyarsdagen => "Nyårsdagen",
            Holiday::TrettondedagJul => "Trettondedag jul",
            Holiday::Langfredagen => "Långfredagen",
            Holiday::Paskdagen => "Påskdagen",
            Holiday::AnnandagPask => "Annandag påsk",
            Holiday::ForstaMaj => "Första maj",
            Holiday::KristiHimmelsfardsdag => "Kristi himmelsfärdsdag",
            Holiday::Pingstdagen => "Pingstdagen",
            Holiday::Nationaldagen => "Sveriges nationaldag",
            Holiday::Midsommarafton => "Midsommarafton",
            Holiday::Midsommardagen => "Midsommardagen",
            Holiday::AllaHelgonsDag => "Alla helgons dag",
            Holiday::Julafton => "Julafton",
            Holiday::Juldagen => "Juldagen",
            Holiday::AnnandagJul => "Annandag jul",
            Holiday::Nyarsafton => "Nyårsafton",
        }
    }
}

/// Easter Sunday of a Gregorian year (the anonymous Gregorian algorithm).
pub fn easter(year: i16) -> Date {
    let y = i32::from(year);
    let a = y % 19;
    let b = y / 100;
    let c = y % 100;
    let d = b / 4;
    let e = b % 4;
    let f = (b + 8) / 25;
    let g = (b - f + 1) / 3;
    let h = (19 * a + b - d - g + 15) % 30;
    let i = c / 4;
    let k = c % 4;
    let l = (32 + 2 * e + 2 * i - h - k) % 7;
    let m = (a + 11 * h + 22 * l) / 451;
    let month = (h + l - 7 * m + 114) / 31;
    let day = (h + l - 7 * m + 114) % 31 + 1;
    // month is 3 or 4 and day 1..=31 by construction.
    jiff::civil::date(year, month as i8, day as i8)
}

/// The first Saturday on or after `from`.
fn saturday_from(from: Date) -> Date {
    let mut d = from;
    while d.weekday() != Weekday::Saturday {
        d = d.tomorrow().unwrap_or(d);
    }
    d
}

fn plus_days(d: Date, n: i64) -> Date {
    d.checked_add(n.days()).unwrap_or(d)
}

/// Every holiday of `year`, in date order.
pub fn holidays(year: i16) -> Vec<(Date, Holiday)> {
    let date = |m, d| jiff::civil::date(year, m, d);
    let e = easter(year);
    let midsommar = saturday_from(date(6, 20));
    let mut all = vec![
        (date(1, 1), Holiday::Nyarsdagen),
        (date(1, 6), Holiday::TrettondedagJul),
        (plus_days(e, -2), Holiday::Langfredagen),
        (e, Holiday::Paskdagen),
        (plus_days(e, 1), Holiday::AnnandagPask),
        (date(5, 1), Holiday::ForstaMaj),
        (plus_days(e, 39), Holiday::KristiHimmelsfardsdag),
        (plus_days(e, 49), Holiday::Pingstdagen),
        (date(6, 6), Holiday::Nationaldagen),
        (plus_days(midsommar, -1), Holiday::Midsommarafton),
        (midsommar, Holiday::Midsommardagen),
        (saturday_from(date(10, 31)), Holiday::AllaHelgonsDag),
        (date(12, 24), Holiday::Julafton),
        (date(12, 25), Holiday::Juldagen),
        (date(12, 26), Holiday::AnnandagJul),
        (date(12, 31), Holiday::Nyarsafton),
    ];
    // Ascension can fall on 1 May (e.g. 2008); keep both names, in date order.
    all.sort_by_key(|(d, _)| *d);
    all
}

/// The holiday on `date`, if it is one (the first name when two coincide).
pub fn holiday(date: Date) -> Option<Holiday> {
    holidays(date.year())
        .into_iter()
        .find(|(d, _)| *d == date)
        .map(|(_, h)| h)
}

/// Opening and closing hour on `date` (local), or None on a holiday.
pub fn business_hours(date: Date) -> Option<(i8, i8)> {
    if holiday(date).is_some() {
        return None;
    }
    match date.weekday() {
        Weekday::Saturday | Weekday::Sunday => Some((10, 16)),
        _ => Some((9, 18)),
    }
}

/// The Swedish business calendar in Europe/Stockholm.
#[derive(Debug, Clone)]
pub struct BusinessCalendar {
    tz: TimeZone,
}

impl Default for BusinessCalendar {
    fn default() -> Self {
        Self::sweden()
    }
}

impl BusinessCalendar {
    /// Sweden: Europe/Stockholm from the bundled tz database.
    pub fn sweden() -> Self {
        // `tzdb-bundle-always`: the zone is compiled in, so this cannot fail at run time
        // (the tests exercise it).
        let tz = TimeZone::get(STOCKHOLM).expect("the bundled tz database has Europe/Stockholm");
        Self { tz }
    }

    /// The Swedish calendar (holidays, opening hours) kept in another IANA zone, for a
    /// tenant whose staff work elsewhere.
    ///
    /// # Errors
    /// The zone is not in the bundled tz database.
    pub fn in_zone(name: &str) -> Result<Self, String> {
        TimeZone::get(name)
            .map(|tz| Self { tz })
            .map_err(|_| format!("unknown time zone {name:?}"))
    }

    /// The local date-time of an instant.
    pub fn local(&self, at: Timestamp) -> jiff::Zoned {
        to_jiff(at).to_zoned(self.tz.clone())
    }

    /// Whether `at` falls within business hours (holidays never do).
    pub fn is_business_time(&self, at: Timestamp) -> bool {
        let local = self.local(at);
        match business_hours(local.date()) {
            Some((open, close)) => {
                let h = local.time().hour();
                h >= open && h < close
            }
            None => false,
        }
    }

    /// The next opening at or after `at`: today's opening if it is still ahead, else the
    /// opening of the next day that is not a holiday. `at` itself when already open.
    pub fn next_opening(&self, at: Timestamp) -> Timestamp {
        if self.is_business_time(at) {
            return at;
        }
        let local = self.local(at);
        let mut day = local.date();
        // A run of holidays is at most a few days long; 14 bounds the search.
        for _ in 0..14 {
            if let Some((open, _)) = business_hours(day)
                && let Ok(opening) = day.at(open, 0, 0, 0).to_zoned(self.tz.clone())
                && opening.timestamp() > local.timestamp()
            {
                return from_jiff(opening.timestamp());
            }
            day = plus_days(day, 1);
        }
        at
    }
}

fn to_jiff(at: Timestamp) -> jiff::Timestamp {
    jiff::Timestamp::from_nanosecond(i128::from(at.unix_nanos())).unwrap_or(jiff::Timestamp::MAX)
}

fn from_jiff(t: jiff::Timestamp) -> Timestamp {
    Timestamp::from_unix_nanos(i64::try_from(t.as_nanosecond()).unwrap_or(i64::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;
    use jiff::civil::date;

    fn ts(s: &str) -> Timestamp {
        Timestamp::parse_rfc3339(s).expect("valid")
    }

    #[test]
    fn easter_of_known_years() {
        assert_eq!(easter(2024), date(2024, 3, 31));
        assert_eq!(easter(2025), date(2025, 4, 20));
        assert_eq!(easter(2026), date(2026, 4, 5));
        assert_eq!(easter(2027), date(2027, 3, 28));
        assert_eq!(easter(2038), date(2038, 4, 25));
    }

    #[test]
    fn holidays_of_2026() {
        let h = holidays(2026);
        let on = |d: Date| h.iter().find(|(x, _)| *x == d).map(|(_, n)| *n);
        assert_eq!(on(date(2026, 4, 3)), Some(Holiday::Langfredagen));
        assert_eq!(on(date(2026, 4, 5)), Some(Holiday::Paskdagen));
        assert_eq!(on(date(2026, 4, 6)), Some(Holiday::AnnandagPask));
        assert_eq!(on(date(2026, 5, 14)), Some(Holiday::KristiHimmelsfardsdag));
        assert_eq!(on(date(2026, 5, 24)), Some(Holiday::Pingstdagen));
        assert_eq!(on(date(2026, 6, 19)), Some(Holiday::Midsommarafton));
        assert_eq!(on(date(2026, 6, 20)), Some(Holiday::Midsommardagen));
        assert_eq!(on(date(2026, 10, 31)), Some(Holiday::AllaHelgonsDag));
        assert_eq!(on(date(2026, 12, 24)), Some(Holiday::Julafton));
        assert_eq!(h.len(), 16);
        assert_eq!(holiday(date(2026, 6, 18)), None);
        assert_eq!(Holiday::Midsommarafton.name(), "Midsommarafton");
    }

    #[test]
    fn midsummer_and_all_saints_move_with_the_weekday() {
        // 2025: Midsommardagen 21 June, Alla helgons dag 1 November.
        assert_eq!(holiday(date(2025, 6, 20)), Some(Holiday::Midsommarafton));
        assert_eq!(holiday(date(2025, 6, 21)), Some(Holiday::Midsommardagen));
        assert_eq!(holiday(date(2025, 11, 1)), Some(Holiday::AllaHelgonsDag));
        // 2027: 26 June and 6 November, the last days of the ranges.
        assert_eq!(holiday(date(2027, 6, 26)), Some(Holiday::Midsommardagen));
        assert_eq!(holiday(date(2027, 11, 6)), Some(Holiday::AllaHelgonsDag));
    }

    #[test]
    fn business_hours_by_weekday_and_holiday() {
        let cal = BusinessCalendar::sweden();
        // Thursday 18 June 2026, 08:30Z = 10:30 CEST.
        assert!(cal.is_business_time(ts("2026-06-18T08:30:00Z")));
        // Midsommarafton, same local time: closed.
        assert!(!cal.is_business_time(ts("2026-06-19T08:30:00Z")));
        // Weekday 18:00 local is closed (16:00Z in summer).
        assert!(!cal.is_business_time(ts("2026-06-18T16:00:00Z")));
        // Saturday 27 June 09:30 local: before the weekend opening.
        assert!(!cal.is_business_time(ts("2026-06-27T07:30:00Z")));
        assert!(cal.is_business_time(ts("2026-06-27T08:30:00Z")));
    }

    #[test]
    fn dst_boundaries_use_the_zone_offset() {
        let cal = BusinessCalendar::sweden();
        // Sunday 29 March 2026, after the switch to CEST: 08:30Z = 10:30, open.
        // (A fixed +01:00 would say 09:30, before the weekend opening.)
        assert!(cal.is_business_time(ts("2026-03-29T08:30:00Z")));
        // Saturday before, still CET: 08:30Z = 09:30, closed.
        assert!(!cal.is_business_time(ts("2026-03-28T08:30:00Z")));
        // Sunday 25 October 2026, back on CET: 14:30Z = 15:30, open (+02:00 would be 16:30).
        assert!(cal.is_business_time(ts("2026-10-25T14:30:00Z")));
        // The next opening after Saturday evening 28 March is Sunday 10:00 CEST = 08:00Z.
        assert_eq!(
            cal.next_opening(ts("2026-03-28T20:00:00Z")),
            ts("2026-03-29T08:00:00Z")
        );
    }

    #[test]
    fn next_opening_skips_easter() {
        let cal = BusinessCalendar::sweden();
        // Thursday 2 April 2026, 19:00 local: Långfredagen is closed, Påskafton is not a
        // holiday in the list, so Saturday 10:00 CEST.
        assert_eq!(
            cal.next_opening(ts("2026-04-02T17:00:00Z")),
            ts("2026-04-04T08:00:00Z")
        );
        // Saturday 4 April 17:00 local: Påskdagen and Annandag påsk are closed, so
        // Tuesday 7 April 09:00 CEST.
        assert_eq!(
            cal.next_opening(ts("2026-04-04T15:00:00Z")),
            ts("2026-04-07T07:00:00Z")
        );
        // Already open: unchanged.
        let open = ts("2026-04-07T08:00:00Z");
        assert_eq!(cal.next_opening(open), open);
        // Early morning: the same day's opening.
        assert_eq!(
            cal.next_opening(ts("2026-04-07T03:00:00Z")),
            ts("2026-04-07T07:00:00Z")
        );
    }
}
