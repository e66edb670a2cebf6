//! Durations (time to triage, time to close) as mergeable sketches: a histogram over
//! logarithmic bins (the DDSketch scheme), so that the median and 90th percentile of any
//! period come from adding a few stored histograms instead of reading every incident.
//! Any quantile is within 1 % of the exact (nearest-rank) value, for durations of a minute
//! or more; durations under a minute count as half a minute.
use std::collections::BTreeMap;

/// The relative accuracy of every quantile.
pub const ALPHA: f64 = 0.01;

fn gamma() -> f64 {
    (1.0 + ALPHA) / (1.0 - ALPHA)
}

/// The bin of a duration in seconds: 0 under a minute, else 1 + ceil(log_γ(minutes)), so
/// that bin i ≥ 1 holds the minutes in (γ^(i-2), γ^(i-1)].
pub fn bin(seconds: i64) -> i16 {
    if seconds < 60 {
        return 0;
    }
    let minutes = seconds as f64 / 60.0;
    let i = (minutes.ln() / gamma().ln()).ceil().max(0.0);
    (1.0 + i).min(f64::from(i16::MAX)) as i16
}

/// The value a bin stands for, in seconds: the point of least relative error.
pub fn value(bin: i16) -> f64 {
    if bin <= 0 {
        return 30.0;
    }
    let g = gamma();
    60.0 * 2.0 * g.powi(i32::from(bin) - 1) / (g + 1.0)
}

/// Counts by bin.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Sketch(BTreeMap<i16, i64>);

impl Sketch {
    pub fn add(&mut self, bin: i16, n: i64) {
        let c = self.0.entry(bin).or_insert(0);
        *c += n;
        if *c == 0 {
            self.0.remove(&bin);
        }
    }

    pub fn merge(&mut self, other: &Sketch) {
        for (b, n) in &other.0 {
            self.add(*b, *n);
        }
    }

    pub fn count(&self) -> i64 {
        self.0.values().filter(|n| **n > 0).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The q-quantile (0 < q ≤ 1) by nearest rank, in seconds; None when empty.
    pub fn quantile(&self, q: f64) -> Option<f64> {
        let total = self.count();
        if total == 0 {
            return None;
        }
        let rank = ((q * total as f64).ceil() as i64).clamp(1, total);
        let mut seen = 0;
        for (b, n) in &self.0 {
            seen += (*n).max(0);
            if seen >= rank {
                return Some(value(*b));
            }
        }
        self.0.keys().next_back().map(|b| value(*b))
    }

    /// The stored form: JSON `[[bin, count], ...]`.
    pub fn to_text(&self) -> String {
        let pairs: Vec<[i64; 2]> = self.0.iter().map(|(b, n)| [i64::from(*b), *n]).collect();
        serde_json::to_string(&pairs).unwrap_or_else(|_| "[]".into())
    }

    pub fn from_text(text: &str) -> Self {
        let pairs: Vec<[i64; 2]> = serde_json::from_str(text).unwrap_or_default();
        let mut s = Sketch::default();
        for [b, n] in pairs {
            if let Ok(b) = i16::try_from(b) {
                s.add(b, n);
            }
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn exact(values: &mut [i64], q: f64) -> f64 {
        values.sort();
        let rank = ((q * values.len() as f64).ceil() as usize).clamp(1, values.len());
        values[rank - 1] as f64
    }

    #[test]
    fn quantiles_are_within_one_percent_of_the_exact_value() {
        // Durations from a minute to three years, spread over orders of magnitude.
        let mut x: u64 = 0x2545_f491_4f6c_dd1d;
        let mut values: Vec<i64> = (0..5_000)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                let exp = (x % 1_000) as f64 / 1_000.0 * 14.0;
                60 + exp.exp() as i64 * 60
            })
            .collect();
        let mut s = Sketch::default();
        for v in &values {
            s.add(bin(*v), 1);
        }
        assert_eq!(s.count(), 5_000);
        for q in [0.1, 0.5, 0.9, 0.99, 1.0] {
            let want = exact(&mut values, q);
            let got = s.quantile(q).unwrap();
            assert!(
                (got - want).abs() <= ALPHA * want + 1e-9,
                "q={q}: {got} vs {want}"
            );
        }
    }

    #[test]
    fn worked_example_of_five_triage_times() {
        // 1 h, 2 h, 4 h, 1 day, 3 days: median 4 h, 90th percentile 3 days.
        let mut s = Sketch::default();
        for h in [1, 2, 4, 24, 72] {
            s.add(bin(h * 3600), 1);
        }
        let median = s.quantile(0.5).unwrap() / 3600.0;
        let p90 = s.quantile(0.9).unwrap() / 3600.0;
        assert!((median - 4.0).abs() <= 0.04, "{median}");
        assert!((p90 - 72.0).abs() <= 0.72, "{p90}");
    }

    #[test]
    fn sketches_merge_subtract_and_survive_storage() {
        let mut a = Sketch::default();
        a.add(bin(3600), 2);
        a.add(bin(30), 1);
        let mut b = Sketch::default();
        b.add(bin(3600), -1);
        b.add(bin(7200), 1);
        a.merge(&b);
        assert_eq!(a.count(), 3);
        assert_eq!(Sketch::from_text(&a.to_text()), a);
        let mut gone = a.clone();
        gone.merge(&Sketch::from_text(&a.to_text()).negated());
        assert!(gone.is_empty());
        assert_eq!(Sketch::default().quantile(0.5), None);
        assert_eq!(value(bin(10)), 30.0, "under a minute");
    }

    impl Sketch {
        fn negated(&self) -> Sketch {
            Sketch(self.0.iter().map(|(b, n)| (*b, -n)).collect())
        }
    }
}
