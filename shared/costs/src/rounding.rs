//! Rounding that adds up: rows of a table rounded so that their rendered amounts sum to the
//! rendered total to the last digit (largest remainder, also called Hamilton's method).
//!
//! Rounding every row half-even on its own can leave the rows a few units of the last place
//! away from the total rounded the same way: three rows of 0.0000005 each round to 0.000000,
//! while their total, 0.0000015, rounds to 0.000002. Here every row is
//! first rounded down; the units still missing to reach the total (rounded half-even) go one
//! each to the rows with the largest remainders, ties to the earlier row. Every row then
//! differs from its exact amount by less than one unit of the last place.

use rust_decimal::prelude::ToPrimitive;
use rust_decimal::{Decimal, RoundingStrategy};

/// `values` rounded to `dp` places so that they add up exactly to the returned total, which
/// is the exact sum rounded half-even to `dp` places. On an overflow of the sum (amounts near
/// 7.9 × 10^28) each value is rounded half-even on its own and the total is their sum.
pub fn allocate(values: &[Decimal], dp: u32) -> (Vec<Decimal>, Decimal) {
    let half_even =
        |v: Decimal| v.round_dp_with_strategy(dp, RoundingStrategy::MidpointNearestEven);
    let exact = values
        .iter()
        .try_fold(Decimal::ZERO, |acc, v| acc.checked_add(*v));
    let floors: Vec<Decimal> = values
        .iter()
        .map(|v| v.round_dp_with_strategy(dp, RoundingStrategy::ToNegativeInfinity))
        .collect();
    let floor_sum = floors
        .iter()
        .try_fold(Decimal::ZERO, |acc, v| acc.checked_add(*v));
    let (Some(exact), Some(floor_sum)) = (exact, floor_sum) else {
        let each: Vec<Decimal> = values.iter().map(|v| half_even(*v)).collect();
        let total = each
            .iter()
            .try_fold(Decimal::ZERO, |acc, v| acc.checked_add(*v))
            .unwrap_or(Decimal::MAX);
        return (each, total);
    };
    let total = half_even(exact);
    let unit = Decimal::new(1, dp.min(28));
    // Units of the last place still missing: between 0 and the number of rows.
    let missing = ((total - floor_sum) / unit)
        .round()
        .to_usize()
        .unwrap_or(0)
        .min(values.len());
    let mut order: Vec<usize> = (0..values.len()).collect();
    // Largest remainder first; the sort is stable, so ties keep the rows' order.
    order.sort_by(|a, b| {
        let ra = values[*a] - floors[*a];
        let rb = values[*b] - floors[*b];
        rb.cmp(&ra)
    });
    let mut rounded = floors;
    for i in order.into_iter().take(missing) {
        rounded[i] += unit;
    }
    (rounded, total)
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn d(s: &str) -> Decimal {
        s.parse().unwrap_or_default()
    }

    #[test]
    fn rows_add_up_to_the_rounded_total() {
        let (rows, total) = allocate(&[d("0.0000005"), d("0.0000005"), d("0.0000005")], 6);
        assert_eq!(total, d("0.000002"));
        assert_eq!(rows, [d("0.000001"), d("0.000001"), d("0"),]);
        let (rows, total) = allocate(&[d("1.2682574"), d("0.0021003")], 6);
        assert_eq!(total, d("1.270358"));
        assert_eq!(rows.iter().copied().sum::<Decimal>(), total);
        assert_eq!(allocate(&[], 6), (vec![], Decimal::ZERO));
    }

    #[test]
    fn exact_rows_are_left_alone() {
        let (rows, total) = allocate(&[d("0.008307"), d("1.5")], 6);
        assert_eq!(rows, [d("0.008307"), d("1.5")]);
        assert_eq!(total, d("1.508307"));
    }

    proptest! {
        #[test]
        fn any_rows_sum_exactly_and_stay_within_one_unit(
            micro_tenths in proptest::collection::vec(0u64..10_000_000_000, 0..40)
        ) {
            // Amounts with 7–12 decimals, as token × price products have.
            let values: Vec<Decimal> = micro_tenths
                .iter()
                .enumerate()
                .map(|(i, v)| Decimal::from(*v) / Decimal::from(10u64.pow(7 + (i as u32 % 6))))
                .collect();
            let (rows, total) = allocate(&values, 6);
            prop_assert_eq!(rows.iter().copied().sum::<Decimal>(), total);
            let exact: Decimal = values.iter().copied().sum();
            prop_assert_eq!(total, exact.round_dp_with_strategy(6, RoundingStrategy::MidpointNearestEven));
            for (r, v) in rows.iter().zip(&values) {
                prop_assert!((*r - *v).abs() < Decimal::new(1, 6));
                prop_assert!(r.scale() <= 6);
            }
        }
    }
}
