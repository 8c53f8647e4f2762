//! The functions on whole collections the definitions' invariants use: `union`,
//! `intersect`, `exclude`, `repeat`, `allTrue` and its kin, `replace`, `replaceMatches`, and
//! the boundaries of numbers, quantities and dates (in `arith`), with FHIRPath equality of
//! complex values (member by member) for the set operations.

use super::eval::{equal, error, truth, Collection, Ctx, EvalError, Item};
use super::node::Node;
use super::parser::{Expr, Func};

/// How deep `repeat()` goes before it gives up: deeper than any resource the readers accept.
const REPEAT_DEPTH: usize = 1024;

impl<'a> Ctx<'a, '_> {
    pub(crate) fn set_function(
        &self,
        func: Func,
        items: Collection<'a>,
        args: &'a [Expr],
        input: &[Item<'a>],
    ) -> Result<Collection<'a>, EvalError> {
        let boolean = |b: bool| vec![Item::Bool(b)];
        Ok(match func {
            Func::Union => {
                let mut out: Collection<'a> = Vec::new();
                for item in items.into_iter().chain(self.eval(&args[0], input)?) {
                    if !out.iter().any(|o| self.deep_equal(o, &item)) {
                        out.push(item);
                    }
                }
                out
            }
            Func::Intersect => {
                let other = self.eval(&args[0], input)?;
                let mut out: Collection<'a> = Vec::new();
                for item in items {
                    if other.iter().any(|o| self.deep_equal(&item, o))
                        && !out.iter().any(|o| self.deep_equal(&item, o))
                    {
                        out.push(item);
                    }
                }
                out
            }
            Func::Exclude => {
                let other = self.eval(&args[0], input)?;
                items
                    .into_iter()
                    .filter(|item| !other.iter().any(|o| self.deep_equal(item, o)))
                    .collect()
            }
            Func::Repeat => {
                let mut out: Collection<'a> = Vec::new();
                let mut next = items;
                for _ in 0..REPEAT_DEPTH {
                    if next.is_empty() {
                        return Ok(out);
                    }
                    let mut found = Vec::new();
                    for item in &next {
                        for new in self.eval(&args[0], std::slice::from_ref(item))? {
                            if !out.iter().any(|o| self.deep_equal(o, &new)) {
                                out.push(new.clone());
                                found.push(new);
                            }
                        }
                    }
                    next = found;
                }
                return error("repeat() went deeper than any resource");
            }
            Func::AllTrue | Func::AllFalse | Func::AnyTrue | Func::AnyFalse => {
                let mut values = Vec::with_capacity(items.len());
                for item in &items {
                    match truth(std::slice::from_ref(item))? {
                        Some(b) if matches!(item.type_name(), "Boolean" | "boolean") => {
                            values.push(b)
                        }
                        _ => return error("allTrue() and its kin take booleans"),
                    }
                }
                boolean(match func {
                    Func::AllTrue => values.iter().all(|b| *b),
                    Func::AllFalse => values.iter().all(|b| !*b),
                    Func::AnyTrue => values.iter().any(|b| *b),
                    _ => values.iter().any(|b| !*b),
                })
            }
            Func::Replace | Func::ReplaceMatches => {
                let pattern = self.string_arg(&args[0], input)?;
                let substitution = self.string_arg(&args[1], input)?;
                let (Some(s), Some(pattern), Some(substitution)) =
                    (super::functions::one_string(&items)?, pattern, substitution)
                else {
                    return Ok(Vec::new());
                };
                let replaced = if func == Func::Replace {
                    s.replace(&*pattern, &substitution)
                } else {
                    let Some(regex) = super::functions::cached_regex(&pattern) else {
                        return error("replaceMatches() has an invalid regex");
                    };
                    regex.replace_all(&s, &*substitution).into_owned()
                };
                vec![Item::String(replaced.into())]
            }
            Func::LowBoundary | Func::HighBoundary => {
                if !args.is_empty() {
                    return error("a boundary with an output precision is not supported");
                }
                self.boundary(&items, func == Func::HighBoundary)?
            }
            Func::Comparable => {
                let other = self.eval(&args[0], input)?;
                self.comparable(&items, &other)?
            }
            _ => return error("function not supported"),
        })
    }

    /// FHIRPath `=` that also compares complex values member by member (two Codings with
    /// the same system and code are equal wherever they are).
    pub(crate) fn deep_equal(&self, a: &Item<'a>, b: &Item<'a>) -> bool {
        match (a, b) {
            (Item::Node(x @ Node::Object(o, _)), Item::Node(y @ Node::Object(p, _))) => {
                if x.same(y) {
                    return true;
                }
                if o.type_index() != p.type_index() {
                    return false;
                }
                let count = self
                    .table
                    .types
                    .get(o.type_index() as usize)
                    .map_or(0, |t| t.elements.len());
                let (mut xs, mut ys) = (Vec::new(), Vec::new());
                (0..count).all(|i| {
                    xs.clear();
                    ys.clear();
                    o.member(i, &mut xs);
                    p.member(i, &mut ys);
                    xs.len() == ys.len()
                        && xs
                            .iter()
                            .zip(&ys)
                            .all(|(x, y)| self.deep_equal(&Item::Node(*x), &Item::Node(*y)))
                })
            }
            _ => equal(a, b, false) == Some(true),
        }
    }
}
