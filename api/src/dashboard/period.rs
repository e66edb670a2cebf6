//! Calendar arithmetic for the rollups: the buckets of each grain (day, week from Monday,
//! month, year) and how a range of days is covered by the fewest whole buckets, so that a
//! five-year question reads a handful of year rows instead of 1,826 day rows.
use chrono::{Datelike, Days, Months, NaiveDate, Weekday};

/// The size of a rollup bucket; the codes are what the tables store.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Grain {
    Day,
    Week,
    Month,
    Year,
}

impl Grain {
    pub const ALL: [Grain; 4] = [Grain::Day, Grain::Week, Grain::Month, Grain::Year];

    pub fn code(self) -> i16 {
        match self {
            Grain::Day => 1,
            Grain::Week => 2,
            Grain::Month => 3,
            Grain::Year => 4,
        }
    }

    pub fn from_code(code: i16) -> Option<Self> {
        Self::ALL.into_iter().find(|g| g.code() == code)
    }

    /// The first day of the bucket holding `d`.
    pub fn start(self, d: NaiveDate) -> NaiveDate {
        match self {
            Grain::Day => d,
            Grain::Week => d - Days::new(u64::from(d.weekday().num_days_from_monday())),
            Grain::Month => d.with_day(1).unwrap_or(d),
            Grain::Year => NaiveDate::from_ymd_opt(d.year(), 1, 1).unwrap_or(d),
        }
    }

    /// The first day of the bucket after the one starting at `start`.
    pub fn next(self, start: NaiveDate) -> NaiveDate {
        let next = match self {
            Grain::Day => start.checked_add_days(Days::new(1)),
            Grain::Week => start.checked_add_days(Days::new(7)),
            Grain::Month => start.checked_add_months(Months::new(1)),
            Grain::Year => start.checked_add_months(Months::new(12)),
        };
        next.unwrap_or(NaiveDate::MAX)
    }

    /// The last day of the bucket starting at `start`.
    pub fn last(self, start: NaiveDate) -> NaiveDate {
        self.next(start).pred_opt().unwrap_or(start)
    }
}

/// The bucket of `grain` that starts at `start`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Piece {
    pub grain: Grain,
    pub start: NaiveDate,
}

/// Covers the days `from..=to` with whole buckets, largest first: days up to a week or
/// month boundary, weeks within a month, months up to a year boundary, years. No grain
/// larger than `max` is used. Empty when `from > to`.
pub fn cover(from: NaiveDate, to: NaiveDate, max: Grain) -> Vec<Piece> {
    let mut out = Vec::new();
    let mut d = from;
    while d <= to {
        let fits = |g: Grain| g <= max && g.start(d) == d && g.last(d) <= to;
        let grain = if fits(Grain::Year) {
            Grain::Year
        } else if fits(Grain::Month) {
            Grain::Month
        } else if fits(Grain::Week)
            && Grain::Week.last(d) < Grain::Month.next(Grain::Month.start(d))
        {
            // A week that stays inside its month, so that whole months are still whole
            // when the walk reaches them.
            Grain::Week
        } else {
            Grain::Day
        };
        out.push(Piece { grain, start: d });
        d = grain.next(d);
    }
    out
}

/// How a dashboard series is bucketed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Interval {
    Day,
    Week,
    Month,
}

/// One bucket of a series: its days, clipped to the period asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Bucket {
    pub start: NaiveDate,
    pub end: NaiveDate,
}

/// Every bucket of `interval` from `from` to `to`, the first and last clipped to them.
pub fn buckets(from: NaiveDate, to: NaiveDate, interval: Interval) -> Vec<Bucket> {
    let grain = match interval {
        Interval::Day => Grain::Day,
        Interval::Week => Grain::Week,
        Interval::Month => Grain::Month,
    };
    let mut out = Vec::new();
    let mut start = grain.start(from);
    while start <= to {
        let end = grain.last(start);
        out.push(Bucket {
            start: start.max(from),
            end: end.min(to),
        });
        start = grain.next(start);
    }
    out
}

/// Consecutive pieces of one grain, as a range of bucket starts (for one SQL condition).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Run {
    pub grain: Grain,
    pub first: NaiveDate,
    pub last: NaiveDate,
}

/// Groups pieces into runs of consecutive buckets of the same grain.
pub fn runs(pieces: &[Piece]) -> Vec<Run> {
    let mut sorted = pieces.to_vec();
    sorted.sort();
    let mut out: Vec<Run> = Vec::new();
    for p in sorted {
        match out.last_mut() {
            Some(r) if r.grain == p.grain && r.grain.next(r.last) == p.start => r.last = p.start,
            _ => out.push(Run {
                grain: p.grain,
                first: p.start,
                last: p.start,
            }),
        }
    }
    out
}

/// Whether a day is a Monday (weeks start on Mondays, as the ISO calendar and the NHS do).
pub fn is_week_start(d: NaiveDate) -> bool {
    d.weekday() == Weekday::Mon
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    fn days_of(pieces: &[Piece]) -> Vec<NaiveDate> {
        let mut out = Vec::new();
        for p in pieces {
            let mut x = p.start;
            while x <= p.grain.last(p.start) {
                out.push(x);
                x = x.succ_opt().unwrap();
            }
        }
        out
    }

    #[test]
    fn buckets_start_on_mondays_firsts_and_new_years() {
        assert_eq!(Grain::Week.start(d("2026-12-03")), d("2026-11-30"));
        assert!(is_week_start(Grain::Week.start(d("2026-12-06"))));
        assert_eq!(Grain::Month.start(d("2026-02-28")), d("2026-02-01"));
        assert_eq!(Grain::Month.last(d("2024-02-01")), d("2024-02-29"));
        assert_eq!(Grain::Year.start(d("2026-12-31")), d("2026-01-01"));
        assert_eq!(Grain::Year.next(d("2026-01-01")), d("2027-01-01"));
        for g in Grain::ALL {
            assert_eq!(Grain::from_code(g.code()), Some(g));
        }
    }

    #[test]
    fn a_range_is_covered_exactly_once_by_whole_buckets() {
        for (from, to) in [
            ("2021-12-02", "2026-12-01"),
            ("2026-09-03", "2026-12-01"),
            ("2026-11-30", "2026-11-30"),
            ("2024-02-26", "2024-03-10"),
            ("2019-01-01", "2026-12-31"),
        ] {
            let (from, to) = (d(from), d(to));
            let pieces = cover(from, to, Grain::Year);
            let days = days_of(&pieces);
            let expected: Vec<NaiveDate> = from.iter_days().take_while(|x| *x <= to).collect();
            assert_eq!(days, expected, "{from}..{to}");
            for p in &pieces {
                assert_eq!(p.grain.start(p.start), p.start, "{p:?} is a whole bucket");
            }
        }
    }

    #[test]
    fn five_years_take_a_few_dozen_pieces_and_ninety_days_a_dozen() {
        let five = cover(d("2021-12-02"), d("2026-12-01"), Grain::Year);
        assert_eq!(
            five.iter().filter(|p| p.grain == Grain::Year).count(),
            4,
            "{five:?}"
        );
        assert!(five.len() < 50, "{}", five.len());
        let ninety = cover(d("2026-09-03"), d("2026-12-01"), Grain::Year);
        assert_eq!(
            ninety
                .iter()
                .filter(|p| p.grain == Grain::Month)
                .map(|p| p.start)
                .collect::<Vec<_>>(),
            vec![d("2026-10-01"), d("2026-11-01")]
        );
        assert!(ninety.len() <= 13, "{ninety:?}");
        // No grain above the one allowed.
        assert!(cover(d("2025-01-01"), d("2026-12-31"), Grain::Week)
            .iter()
            .all(|p| p.grain <= Grain::Week));
        assert!(cover(d("2026-12-02"), d("2026-12-01"), Grain::Year).is_empty());
    }

    #[test]
    fn series_buckets_are_clipped_to_the_period() {
        let b = buckets(d("2026-09-15"), d("2026-11-03"), Interval::Month);
        assert_eq!(
            b,
            vec![
                Bucket {
                    start: d("2026-09-15"),
                    end: d("2026-09-30")
                },
                Bucket {
                    start: d("2026-10-01"),
                    end: d("2026-10-31")
                },
                Bucket {
                    start: d("2026-11-01"),
                    end: d("2026-11-03")
                },
            ]
        );
        let w = buckets(d("2026-11-25"), d("2026-12-01"), Interval::Week);
        assert_eq!(w.len(), 2);
        assert_eq!(w[1].start, d("2026-11-30"));
        assert_eq!(
            buckets(d("2026-11-25"), d("2026-12-01"), Interval::Day).len(),
            7
        );
    }

    #[test]
    fn consecutive_pieces_of_a_grain_make_one_run() {
        let pieces = cover(d("2021-12-02"), d("2026-12-01"), Grain::Year);
        let r = runs(&pieces);
        // Days and weeks of December 2021, years 2022-2025, months of 2026, the first
        // of December.
        assert!(r.len() <= 6, "{r:?}");
        assert!(r.contains(&Run {
            grain: Grain::Year,
            first: d("2022-01-01"),
            last: d("2025-01-01")
        }));
    }
}
