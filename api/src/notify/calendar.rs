//! Working days: deadlines such as the duty of candour's "10 working days" skip weekends
//! and bank holidays. The holidays are data (configuration), England and Wales by default.
use std::collections::BTreeSet;

use chrono::{Datelike, Days, NaiveDate, Weekday};

/// Bank holidays in England and Wales, 2025 to 2028 (GOV.UK), substitute days included.
pub const ENGLAND_AND_WALES: &[&str] = &[
    "2025-01-01",
    "2025-04-18",
    "2025-04-21",
    "2025-05-05",
    "2025-05-26",
    "2025-08-25",
    "2025-12-25",
    "2025-12-26", //
    "2026-01-01",
    "2026-04-03",
    "2026-04-06",
    "2026-05-04",
    "2026-05-25",
    "2026-08-31",
    "2026-12-25",
    "2026-12-28", //
    "2027-01-01",
    "2027-03-26",
    "2027-03-29",
    "2027-05-03",
    "2027-05-31",
    "2027-08-30",
    "2027-12-27",
    "2027-12-28", //
    "2028-01-03",
    "2028-04-14",
    "2028-04-17",
    "2028-05-01",
    "2028-05-29",
    "2028-08-28",
    "2028-12-25",
    "2028-12-26",
];

/// Which days are working days.
#[derive(Debug, Clone, Default)]
pub struct WorkingCalendar {
    holidays: BTreeSet<NaiveDate>,
}

impl WorkingCalendar {
    /// A calendar from ISO dates; Err names the first that is not one.
    pub fn new<S: AsRef<str>>(holidays: &[S]) -> Result<Self, String> {
        let mut set = BTreeSet::new();
        for h in holidays {
            let d = NaiveDate::parse_from_str(h.as_ref().trim(), "%Y-%m-%d")
                .map_err(|_| format!("{:?} is not a date (YYYY-MM-DD)", h.as_ref()))?;
            set.insert(d);
        }
        Ok(Self { holidays: set })
    }

    pub fn england_and_wales() -> Self {
        Self::new(ENGLAND_AND_WALES).expect("the built-in holidays are dates")
    }

    pub fn is_working_day(&self, d: NaiveDate) -> bool {
        !matches!(d.weekday(), Weekday::Sat | Weekday::Sun) && !self.holidays.contains(&d)
    }

    /// The date `n` working days before `end` (`end` itself not counted).
    pub fn sub_working_days(&self, end: NaiveDate, n: u32) -> NaiveDate {
        let mut d = end;
        let mut left = n;
        while left > 0 {
            d = d - Days::new(1);
            if self.is_working_day(d) {
                left -= 1;
            }
        }
        d
    }

    /// The date `n` working days after `start` (`start` itself not counted, whatever it is).
    pub fn add_working_days(&self, start: NaiveDate, n: u32) -> NaiveDate {
        let mut d = start;
        let mut left = n;
        while left > 0 {
            d = d + Days::new(1);
            if self.is_working_day(d) {
                left -= 1;
            }
        }
        d
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn date(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    #[test]
    fn weekends_are_skipped() {
        let c = WorkingCalendar::default();
        // Friday + 1 working day = Monday.
        assert_eq!(
            c.add_working_days(date("2026-11-20"), 1),
            date("2026-11-23")
        );
        // Reported on a Saturday: counting starts with Monday.
        assert_eq!(
            c.add_working_days(date("2026-11-21"), 1),
            date("2026-11-23")
        );
        // Two weeks of working days.
        assert_eq!(
            c.add_working_days(date("2026-11-23"), 10),
            date("2026-12-07")
        );
        assert_eq!(
            c.add_working_days(date("2026-11-23"), 0),
            date("2026-11-23")
        );
    }

    #[test]
    fn bank_holidays_are_skipped() {
        let c = WorkingCalendar::england_and_wales();
        // Christmas 2026: Friday 25th, Boxing Day substitute Monday 28th.
        assert_eq!(
            c.add_working_days(date("2026-12-24"), 1),
            date("2026-12-29")
        );
        // Easter 2027: Good Friday 26 March and Easter Monday 29 March.
        assert_eq!(
            c.add_working_days(date("2027-03-25"), 1),
            date("2027-03-30")
        );
        // 10 working days from Monday 14 December 2026 cross Christmas.
        assert_eq!(
            c.add_working_days(date("2026-12-14"), 10),
            date("2026-12-30")
        );
        assert!(!c.is_working_day(date("2028-01-03")), "New Year substitute");
    }

    #[test]
    fn the_built_in_holidays_are_weekdays() {
        for h in ENGLAND_AND_WALES {
            let d = date(h);
            assert!(
                !matches!(d.weekday(), Weekday::Sat | Weekday::Sun),
                "{h} falls on a weekend"
            );
        }
        assert!(WorkingCalendar::new(&["2026-13-01"]).is_err());
    }
}
