//! Statistical process control the NHS way ("Making Data Count", NHS England): an XmR
//! chart (individual values and their moving ranges) with its mean and process limits,
//! the special-cause rules, and the variation and assurance icons' meanings.
//!
//! - Process limits: mean ± 2.66 × the average moving range (2.66 = 3 / 1.128, three
//!   sigma estimated from the moving range).
//! - Special cause, flagged on every point it involves:
//!   1. a point outside the process limits;
//!   2. a shift: 7 or more consecutive points on one side of the mean (a point on the
//!      mean breaks the run);
//!   3. a trend: 6 or more consecutive points each higher (or each lower) than the one
//!      before (an equal value breaks it);
//!   4. two out of three consecutive points close to a process limit (beyond two thirds
//!      of the way from the mean to it), on the same side.
//! - Variation: the latest point's story. Special cause in the direction that is better
//!   (`betterWhen`) is improving, the other way concerning; no special cause at the latest
//!   point is common cause.
//! - Assurance (with a target): a target outside the process limits is consistently met
//!   or consistently not met (whichever side it is on, and which way is better); inside
//!   them, hit and miss.
use serde::Serialize;

/// Which way is better for a measure.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Better {
    Higher,
    Lower,
}

/// The rules of special cause.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub enum Rule {
    /// A point outside the process limits.
    OutsideLimits,
    /// Seven or more consecutive points on one side of the mean.
    Shift,
    /// Six or more consecutive points rising, or falling.
    Trend,
    /// Two out of three consecutive points close to a process limit, same side.
    TwoOfThreeNearLimit,
}

/// Which side of the mean a special cause points to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Side {
    High,
    Low,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Point {
    pub value: f64,
    /// |this − previous|; none for the first point.
    pub moving_range: Option<f64>,
    /// The rules this point is part of a signal under.
    pub rules: Vec<Rule>,
    /// The direction of its special cause, if any (a point in a rising trend is High).
    pub side: Option<Side>,
}

/// The variation icon's meaning.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Variation {
    /// Special cause in the better direction.
    Improving,
    /// Special cause in the worse direction.
    Concerning,
    /// No special cause at the latest point.
    CommonCause,
}

/// The assurance icon's meaning.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Assurance {
    /// The target lies beyond the limits on the good side: the process will meet it.
    ConsistentlyMet,
    /// The target lies within the limits: the process will sometimes meet it.
    HitAndMiss,
    /// The target lies beyond the limits on the bad side: it will not be met without a
    /// change to the process.
    ConsistentlyNotMet,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Chart {
    pub mean: f64,
    pub average_moving_range: f64,
    pub upper_process_limit: f64,
    pub lower_process_limit: f64,
    pub points: Vec<Point>,
    pub variation: Variation,
    pub assurance: Option<Assurance>,
    /// Fewer than 15 points: limits are indicative only (Making Data Count's advice).
    pub few_points: bool,
}

/// 3 / d2 for subgroups of two (d2 = 1.128).
pub const SCALE: f64 = 2.66;
pub const SHIFT: usize = 7;
pub const TREND: usize = 6;

/// The XmR chart of `values` (in time order); None for fewer than two values.
pub fn xmr(values: &[f64], better: Better, target: Option<f64>) -> Option<Chart> {
    if values.len() < 2 || values.iter().any(|v| !v.is_finite()) {
        return None;
    }
    let n = values.len() as f64;
    let mean = values.iter().sum::<f64>() / n;
    let ranges: Vec<f64> = values.windows(2).map(|w| (w[1] - w[0]).abs()).collect();
    let amr = ranges.iter().sum::<f64>() / ranges.len() as f64;
    let upl = mean + SCALE * amr;
    let lpl = mean - SCALE * amr;
    let mut points: Vec<Point> = values
        .iter()
        .enumerate()
        .map(|(i, &v)| Point {
            value: v,
            moving_range: (i > 0).then(|| ranges[i - 1]),
            rules: Vec::new(),
            side: None,
        })
        .collect();
    let flag = |points: &mut Vec<Point>, i: usize, rule: Rule, side: Side| {
        let p = &mut points[i];
        if !p.rules.contains(&rule) {
            p.rules.push(rule);
            p.rules.sort();
        }
        p.side.get_or_insert(side);
    };

    // 1. Outside the limits.
    for (i, &v) in values.iter().enumerate() {
        if v > upl {
            flag(&mut points, i, Rule::OutsideLimits, Side::High);
        } else if v < lpl {
            flag(&mut points, i, Rule::OutsideLimits, Side::Low);
        }
    }

    // 2. Shift: runs on one side of the mean.
    let side_of = |v: f64| {
        if v > mean {
            Some(Side::High)
        } else if v < mean {
            Some(Side::Low)
        } else {
            None
        }
    };
    let mut start = 0;
    while start < values.len() {
        let Some(side) = side_of(values[start]) else {
            start += 1;
            continue;
        };
        let mut end = start;
        while end + 1 < values.len() && side_of(values[end + 1]) == Some(side) {
            end += 1;
        }
        if end - start + 1 >= SHIFT {
            for i in start..=end {
                flag(&mut points, i, Rule::Shift, side);
            }
        }
        start = end + 1;
    }

    // 3. Trend: consecutive rises (or falls); a run of k changes covers k + 1 points.
    for (rising, side) in [(true, Side::High), (false, Side::Low)] {
        let mut i = 0;
        while i + 1 < values.len() {
            let moves = |a: f64, b: f64| if rising { b > a } else { b < a };
            if !moves(values[i], values[i + 1]) {
                i += 1;
                continue;
            }
            let mut j = i + 1;
            while j + 1 < values.len() && moves(values[j], values[j + 1]) {
                j += 1;
            }
            if j - i + 1 >= TREND {
                for k in i..=j {
                    flag(&mut points, k, Rule::Trend, side);
                }
            }
            i = j;
        }
    }

    // 4. Two of three near a limit (beyond two thirds of the way to it), same side.
    let near_high = mean + (upl - mean) * 2.0 / 3.0;
    let near_low = mean - (mean - lpl) * 2.0 / 3.0;
    for w in 0..values.len().saturating_sub(2) {
        for (side, near) in [
            (
                Side::High,
                &(|v: f64| v > near_high) as &dyn Fn(f64) -> bool,
            ),
            (Side::Low, &(|v: f64| v < near_low) as &dyn Fn(f64) -> bool),
        ] {
            let hits: Vec<usize> = (w..w + 3).filter(|&i| near(values[i])).collect();
            if hits.len() >= 2 {
                for i in hits {
                    flag(&mut points, i, Rule::TwoOfThreeNearLimit, side);
                }
            }
        }
    }

    let good = match better {
        Better::Higher => Side::High,
        Better::Lower => Side::Low,
    };
    let variation = match points.last().and_then(|p| p.side) {
        Some(s) if s == good => Variation::Improving,
        Some(_) => Variation::Concerning,
        None => Variation::CommonCause,
    };
    let assurance = target.filter(|t| t.is_finite()).map(|t| {
        let (beyond_good, beyond_bad) = match better {
            Better::Higher => (t < lpl, t > upl),
            Better::Lower => (t > upl, t < lpl),
        };
        if beyond_good {
            Assurance::ConsistentlyMet
        } else if beyond_bad {
            Assurance::ConsistentlyNotMet
        } else {
            Assurance::HitAndMiss
        }
    });
    Some(Chart {
        mean,
        average_moving_range: amr,
        upper_process_limit: upl,
        lower_process_limit: lpl,
        points,
        variation,
        assurance,
        few_points: values.len() < 15,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-9
    }

    fn flagged(c: &Chart, rule: Rule) -> Vec<usize> {
        c.points
            .iter()
            .enumerate()
            .filter(|(_, p)| p.rules.contains(&rule))
            .map(|(i, _)| i)
            .collect()
    }

    // Worked example: a stable process.
    // values 10 12 11 13 12 11 10 12 11 13; sum 115, mean 11.5.
    // moving ranges 2 1 2 1 1 1 2 1 2; sum 13, average 13/9 = 1.4444…
    // limits 11.5 ± 2.66 × 1.4444… = 15.3422… and 7.6577…
    const STABLE: [f64; 10] = [10.0, 12.0, 11.0, 13.0, 12.0, 11.0, 10.0, 12.0, 11.0, 13.0];

    #[test]
    fn mean_moving_range_and_limits_of_a_stable_process() {
        let c = xmr(&STABLE, Better::Higher, None).unwrap();
        assert!(close(c.mean, 11.5));
        assert!(close(c.average_moving_range, 13.0 / 9.0));
        assert!(close(c.upper_process_limit, 11.5 + 2.66 * 13.0 / 9.0));
        assert!(close(c.lower_process_limit, 11.5 - 2.66 * 13.0 / 9.0));
        assert!((c.upper_process_limit - 15.3422).abs() < 1e-4);
        assert!((c.lower_process_limit - 7.6578).abs() < 1e-4);
        assert_eq!(c.points[0].moving_range, None);
        assert_eq!(c.points[3].moving_range, Some(2.0));
        assert!(c.points.iter().all(|p| p.rules.is_empty()));
        assert_eq!(c.variation, Variation::CommonCause);
        assert!(c.few_points);
    }

    #[test]
    fn a_point_beyond_the_upper_limit_is_special_cause_and_improving_when_higher_is_better() {
        // mean of the 11 values = (115 + 25) / 11 = 12.7272…; moving ranges add |25-13| =
        // 12: average (13 + 12) / 10 = 2.5; UPL = 12.7272 + 6.65 = 19.377… < 25.
        let mut v = STABLE.to_vec();
        v.push(25.0);
        let c = xmr(&v, Better::Higher, None).unwrap();
        assert!(close(c.average_moving_range, 2.5));
        assert!(c.upper_process_limit < 25.0);
        assert_eq!(flagged(&c, Rule::OutsideLimits), vec![10]);
        assert_eq!(c.points[10].side, Some(Side::High));
        assert_eq!(c.variation, Variation::Improving);
        let c = xmr(&v, Better::Lower, None).unwrap();
        assert_eq!(c.variation, Variation::Concerning);
    }

    #[test]
    fn seven_in_a_row_below_the_mean_is_a_shift() {
        // 7 high then 7 low around a mean of 15: both runs are shifts.
        let v = [
            20.0, 21.0, 20.0, 21.0, 20.0, 21.0, 20.0, 10.0, 9.0, 10.0, 9.0, 10.0, 9.0, 10.0,
        ];
        let c = xmr(&v, Better::Higher, None).unwrap();
        assert_eq!(flagged(&c, Rule::Shift), (0..14).collect::<Vec<_>>());
        assert_eq!(c.points[13].side, Some(Side::Low));
        assert_eq!(c.variation, Variation::Concerning);
    }

    #[test]
    fn six_on_one_side_is_not_yet_a_shift_and_the_mean_breaks_a_run() {
        // mean 0: six above, one on the mean, six below.
        let v = [
            1.0, 2.0, 1.0, 2.0, 1.0, 2.0, 0.0, -1.0, -2.0, -1.0, -2.0, -1.0, -2.0,
        ];
        let c = xmr(&v, Better::Higher, None).unwrap();
        assert!(close(c.mean, 0.0));
        assert!(flagged(&c, Rule::Shift).is_empty());
    }

    #[test]
    fn six_rising_points_are_a_trend_and_five_are_not() {
        let six = [5.0, 5.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 5.0, 5.0];
        let c = xmr(&six, Better::Lower, None).unwrap();
        assert_eq!(flagged(&c, Rule::Trend), vec![2, 3, 4, 5, 6, 7]);
        assert_eq!(c.points[7].side, Some(Side::High));
        let five = [5.0, 5.0, 1.0, 2.0, 3.0, 4.0, 5.0, 5.0, 5.0];
        let c = xmr(&five, Better::Lower, None).unwrap();
        assert!(flagged(&c, Rule::Trend).is_empty());
        // An equal value breaks a trend.
        let flat = [1.0, 2.0, 3.0, 3.0, 4.0, 5.0, 6.0];
        assert!(flagged(&xmr(&flat, Better::Lower, None).unwrap(), Rule::Trend).is_empty());
    }

    #[test]
    fn a_falling_trend_at_the_end_is_improving_when_lower_is_better() {
        let v = [9.0, 10.0, 9.0, 10.0, 9.0, 8.0, 7.0, 6.0, 5.0, 4.0];
        let c = xmr(&v, Better::Lower, None).unwrap();
        assert_eq!(flagged(&c, Rule::Trend), vec![3, 4, 5, 6, 7, 8, 9]);
        assert_eq!(c.variation, Variation::Improving);
    }

    #[test]
    fn two_of_three_close_to_a_limit_on_the_same_side() {
        // Worked: 16 values alternating 9 and 11, then 15.5, 10, 15.5.
        // Sum 160 + 41 = 201 over 19: mean 10.5789…; moving ranges 15 × 2, then 4.5, 5.5,
        // 5.5: 45.5 / 18 = 2.5277…; UPL = 10.5789 + 2.66 × 2.5277 = 17.3028…; "near" is
        // beyond 10.5789 + (17.3028 − 10.5789) × 2/3 = 15.0615…: both 15.5s, not the 10.
        let mut v: Vec<f64> = (0..16)
            .map(|i| if i % 2 == 0 { 9.0 } else { 11.0 })
            .collect();
        v.extend([15.5, 10.0, 15.5]);
        let c = xmr(&v, Better::Higher, None).unwrap();
        assert!((c.mean - 10.5789).abs() < 1e-4);
        assert!((c.upper_process_limit - 17.3028).abs() < 1e-4);
        assert_eq!(flagged(&c, Rule::TwoOfThreeNearLimit), vec![16, 18]);
        assert!(flagged(&c, Rule::OutsideLimits).is_empty());
        assert!(flagged(&c, Rule::Shift).is_empty());
        assert_eq!(c.variation, Variation::Improving);
    }

    #[test]
    fn assurance_from_where_the_target_lies() {
        // Limits 7.66 – 15.34.
        let met = xmr(&STABLE, Better::Higher, Some(5.0)).unwrap();
        assert_eq!(met.assurance, Some(Assurance::ConsistentlyMet));
        let miss = xmr(&STABLE, Better::Higher, Some(16.0)).unwrap();
        assert_eq!(miss.assurance, Some(Assurance::ConsistentlyNotMet));
        let hit = xmr(&STABLE, Better::Higher, Some(12.0)).unwrap();
        assert_eq!(hit.assurance, Some(Assurance::HitAndMiss));
        let lower = xmr(&STABLE, Better::Lower, Some(16.0)).unwrap();
        assert_eq!(lower.assurance, Some(Assurance::ConsistentlyMet));
        assert_eq!(xmr(&STABLE, Better::Lower, None).unwrap().assurance, None);
    }

    #[test]
    fn too_few_or_broken_values_give_no_chart() {
        assert!(xmr(&[], Better::Higher, None).is_none());
        assert!(xmr(&[1.0], Better::Higher, None).is_none());
        assert!(xmr(&[1.0, f64::NAN], Better::Higher, None).is_none());
        let c = xmr(&[3.0, 3.0], Better::Higher, None).unwrap();
        assert!(close(c.average_moving_range, 0.0));
    }
}
