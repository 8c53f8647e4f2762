//! Numbers, quantities and dates: the arithmetic operators (`+ - * / div mod`, `+` also
//! joining strings), the order of dates at their precision and of quantities of one unit, and
//! `lowBoundary()`, `highBoundary()`, `comparable()`.

use super::eval::{error, Collection, Ctx, EvalError, Item};
use super::node::Prim;
use super::parser::Op;
use std::borrow::Cow;
use std::cmp::Ordering;

/// A number item's value (integers and decimals, nodes or computed).
pub(crate) fn number_of(item: &Item<'_>) -> Option<f64> {
    match item {
        Item::Decimal(d) => Some(*d),
        other => match other.primitive()? {
            Prim::Integer(i) => Some(i as f64),
            Prim::Decimal(d) => d.parse().ok(),
            _ => None,
        },
    }
}

fn integer_of(item: &Item<'_>) -> Option<i64> {
    match item.primitive()? {
        Prim::Integer(i) => Some(i),
        _ => None,
    }
}

/// `a op b` for the arithmetic operators: empty when a side is empty, an error when a side
/// has more than one item or the types do not combine (dates plus durations are not
/// supported: an invariant using them is not evaluated rather than evaluated wrongly).
pub(crate) fn arithmetic<'a>(
    op: Op,
    a: &[Item<'a>],
    b: &[Item<'a>],
) -> Result<Collection<'a>, EvalError> {
    let (x, y) = match (a, b) {
        ([], _) | (_, []) => return Ok(Vec::new()),
        ([x], [y]) => (x, y),
        _ => return error("an arithmetic operator takes one item on each side"),
    };
    if op == Op::Add {
        let text = |i: &Item<'a>| match i.primitive()? {
            p @ (Prim::String(_) | Prim::Code(..)) => p.as_str().map(str::to_owned),
            _ => None,
        };
        if let (Some(s), Some(t)) = (text(x), text(y)) {
            return Ok(vec![Item::String(Cow::Owned(s + &t))]);
        }
    }
    if let (Some(i), Some(j)) = (integer_of(x), integer_of(y)) {
        let v = match op {
            Op::Add => i.checked_add(j),
            Op::Sub => i.checked_sub(j),
            Op::Mul => i.checked_mul(j),
            Op::IntDiv => i.checked_div(j),
            Op::Mod => i.checked_rem(j),
            // `/` of integers is a decimal.
            _ => {
                return Ok(match j {
                    0 => Vec::new(),
                    _ => vec![Item::Decimal(i as f64 / j as f64)],
                })
            }
        };
        return match v {
            Some(v) => Ok(vec![Item::Integer(v)]),
            // Division by zero is empty; an overflow is an error.
            None if j == 0 && matches!(op, Op::IntDiv | Op::Mod) => Ok(Vec::new()),
            None => error("integer overflow"),
        };
    }
    let (Some(p), Some(q)) = (number_of(x), number_of(y)) else {
        return error("arithmetic on values that are not numbers or strings");
    };
    let v = match op {
        Op::Add => p + q,
        Op::Sub => p - q,
        Op::Mul => p * q,
        _ if q == 0.0 => return Ok(Vec::new()),
        Op::Div => p / q,
        Op::IntDiv => return Ok(vec![Item::Integer((p / q).trunc() as i64)]),
        _ => p % q,
    };
    Ok(vec![Item::Decimal(v)])
}

/// Two ranges of instants ordered: equal when they are the same, ordered when they do not
/// overlap, `None` (unknown) when the values differ in precision and overlap, as FHIRPath
/// compares `@2020` with `@2020-05`.
fn compare_ranges(a: (i128, i128), b: (i128, i128)) -> Option<Ordering> {
    if a == b {
        Some(Ordering::Equal)
    } else if a.1 <= b.0 {
        Some(Ordering::Less)
    } else if b.1 <= a.0 {
        Some(Ordering::Greater)
    } else {
        None
    }
}

/// Whether an item is a date, dateTime or instant.
fn is_date(item: &Item<'_>) -> bool {
    matches!(item, Item::Instant(_))
        || matches!(
            item.primitive(),
            Some(Prim::Date(_) | Prim::DateTime(_) | Prim::Instant(_))
        )
}

/// The instants an item stands for at its precision (a string is read as the date it spells).
fn date_range_of(item: &Item<'_>) -> Option<(i128, i128)> {
    match item {
        Item::Instant(t) => Some((*t, t + 1)),
        _ => super::extract::date_range(item.primitive()?.as_str()?),
    }
}

/// `=` when a side is a computed instant or quantity: instants as dates at their precision,
/// computed quantities by value and unit; `None` when unknown.
pub(crate) fn equal_computed(a: &Item<'_>, b: &Item<'_>) -> Option<bool> {
    match (a, b) {
        (Item::Quantity(v, s, c), Item::Quantity(w, t, d)) => Some(v == w && (s, c) == (t, d)),
        _ if is_date(a) && is_date(b) => {
            compare_ranges(date_range_of(a)?, date_range_of(b)?).map(Ordering::is_eq)
        }
        _ => None,
    }
}

/// The digits after the decimal point of a decimal's text.
fn decimals(text: &str) -> i32 {
    let mantissa = text.split(['e', 'E']).next().unwrap_or(text);
    mantissa.split_once('.').map_or(0, |(_, f)| f.len() as i32)
}

impl<'a> Ctx<'a, '_> {
    /// FHIRPath `<` and its kin: numbers, dates at their precision, quantities of one unit,
    /// strings and times; `None` when the two cannot be compared.
    pub(crate) fn compare(&self, a: &Item<'a>, b: &Item<'a>) -> Option<Ordering> {
        if let (Some(x), Some(y)) = (number_of(a), number_of(b)) {
            return x.partial_cmp(&y);
        }
        if is_date(a) || is_date(b) {
            return compare_ranges(date_range_of(a)?, date_range_of(b)?);
        }
        if let (Some(x), Some(y)) = (self.quantity_of(a), self.quantity_of(b)) {
            return match (x.1 == y.1, x.0, y.0) {
                (true, Some(v), Some(w)) => v.partial_cmp(&w),
                _ => None,
            };
        }
        let (x, y) = (a.primitive()?, b.primitive()?);
        match (x, y) {
            (Prim::String(_) | Prim::Code(..), Prim::String(_) | Prim::Code(..))
            | (Prim::Time(_), Prim::Time(_)) => Some(x.as_str()?.cmp(y.as_str()?)),
            _ => None,
        }
    }

    /// A quantity item (a Quantity node of any of its profiles, or a computed quantity) as
    /// its value and unit: system and code, or the `unit` text when there is no code. Units
    /// are never converted: quantities of different units are not comparable here.
    #[allow(clippy::type_complexity)]
    fn quantity_of(
        &self,
        item: &Item<'a>,
    ) -> Option<(Option<f64>, (Option<&'a str>, Option<&'a str>))> {
        match item {
            Item::Quantity(v, system, code) => Some((Some(*v), (*system, *code))),
            Item::Node(n) if self.is_type_name(n.type_name(), "Quantity") => {
                let text = |name: &str| {
                    self.first_child(*n, name)
                        .and_then(|c| c.primitive())
                        .and_then(|p| p.as_str())
                };
                let value = self
                    .first_child(*n, "value")
                    .and_then(|c| number_of(&Item::Node(c)));
                let unit = match text("code") {
                    Some(code) => (text("system"), Some(code)),
                    None => (None, text("unit")),
                };
                Some((value, unit))
            }
            _ => None,
        }
    }

    /// `comparable(other)`: two quantities of the same unit (units are not converted).
    pub(crate) fn comparable(
        &self,
        a: &[Item<'a>],
        b: &[Item<'a>],
    ) -> Result<Collection<'a>, EvalError> {
        match (a, b) {
            ([], _) | (_, []) => Ok(Vec::new()),
            ([x], [y]) => match (self.quantity_of(x), self.quantity_of(y)) {
                (Some(x), Some(y)) => Ok(vec![Item::Bool(x.1 == y.1)]),
                _ => error("comparable() takes two quantities"),
            },
            _ => error("comparable() takes one item"),
        }
    }

    /// `lowBoundary()` and `highBoundary()`: the least or greatest value a decimal, quantity
    /// or date could have at its precision (a decimal written `1.0` is 0.95 to 1.05; a date
    /// `2020` is its first to its last instant). An explicit output precision is not
    /// supported.
    pub(crate) fn boundary(
        &self,
        items: &[Item<'a>],
        high: bool,
    ) -> Result<Collection<'a>, EvalError> {
        let item = match items {
            [] => return Ok(Vec::new()),
            [item] => item,
            _ => return error("a boundary takes one item"),
        };
        let decimal = |text: &str| -> Option<f64> {
            let v: f64 = text.parse().ok()?;
            let half = 0.5 * 10f64.powi(-decimals(text));
            Some(if high { v + half } else { v - half })
        };
        if is_date(item) {
            let (low, end) = date_range_of(item).ok_or_else(|| EvalError {
                message: "a boundary of a date that is not one".into(),
            })?;
            return Ok(vec![Item::Instant(if high { end - 1 } else { low })]);
        }
        match item {
            Item::Decimal(d) => return Ok(vec![Item::Decimal(*d)]),
            Item::Quantity(..) => return Ok(vec![item.clone()]),
            Item::Node(n) if self.is_type_name(n.type_name(), "Quantity") => {
                let (_, (system, code)) = self.quantity_of(item).expect("a quantity");
                let value = self.first_child(*n, "value").and_then(|c| c.primitive());
                let v = match value {
                    Some(Prim::Decimal(text)) => decimal(text),
                    Some(Prim::Integer(i)) => Some(i as f64),
                    _ => None,
                };
                return Ok(v
                    .map(|v| Item::Quantity(v, system, code))
                    .into_iter()
                    .collect());
            }
            _ => {}
        }
        match item.primitive() {
            Some(Prim::Decimal(text)) => Ok(decimal(text).map(Item::Decimal).into_iter().collect()),
            Some(Prim::Integer(i)) => Ok(vec![Item::Integer(i)]),
            _ => error("a boundary of a value that is not a number, quantity or date"),
        }
    }
}
