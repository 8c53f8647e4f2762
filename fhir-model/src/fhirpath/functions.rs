//! The FHIRPath functions the evaluator has (see [`Func`]).

use super::eval::{equal, error, truth, Collection, Ctx, EvalError, Item};
use super::node::{Node, Prim};
use super::parser::{Expr, Func, TypeSpec};
use std::borrow::Cow;

impl<'a> Ctx<'a, '_> {
    pub(crate) fn call(
        &self,
        func: Func,
        items: Collection<'a>,
        args: &'a [Expr],
        spec: Option<&TypeSpec>,
        input: &[Item<'a>],
    ) -> Result<Collection<'a>, EvalError> {
        let boolean = |b: bool| vec![Item::Bool(b)];
        Ok(match func {
            Func::Where => {
                let mut out = Vec::with_capacity(items.len());
                for item in items {
                    let keep = truth(&self.eval(&args[0], std::slice::from_ref(&item))?)?;
                    if keep == Some(true) {
                        out.push(item);
                    }
                }
                out
            }
            Func::Select => {
                let mut out = Vec::new();
                for item in &items {
                    out.extend(self.eval(&args[0], std::slice::from_ref(item))?);
                }
                out
            }
            Func::All => {
                for item in &items {
                    if truth(&self.eval(&args[0], std::slice::from_ref(item))?)? != Some(true) {
                        return Ok(boolean(false));
                    }
                }
                boolean(true)
            }
            Func::Exists => match args.first() {
                None => boolean(!items.is_empty()),
                Some(criteria) => {
                    for item in &items {
                        if truth(&self.eval(criteria, std::slice::from_ref(item))?)? == Some(true) {
                            return Ok(boolean(true));
                        }
                    }
                    boolean(false)
                }
            },
            Func::Empty => boolean(items.is_empty()),
            Func::First => items.into_iter().take(1).collect(),
            Func::Last => items.into_iter().last().into_iter().collect(),
            Func::Tail => items.into_iter().skip(1).collect(),
            Func::Count => vec![Item::Integer(items.len() as i64)],
            Func::Distinct => {
                let mut out: Collection<'a> = Vec::with_capacity(items.len());
                for item in items {
                    if !out.iter().any(|x| equal(x, &item, false) == Some(true)) {
                        out.push(item);
                    }
                }
                out
            }
            Func::Not => truth(&items)?.map(|b| Item::Bool(!b)).into_iter().collect(),
            Func::OfType | Func::As => {
                let spec = spec.expect("the parser gives a type");
                items
                    .into_iter()
                    .filter(|i| self.is_type(i, spec))
                    .collect()
            }
            Func::Is => {
                let spec = spec.expect("the parser gives a type");
                match items.as_slice() {
                    [] => Vec::new(),
                    [item] => boolean(self.is_type(item, spec)),
                    _ => return error("is() takes one item"),
                }
            }
            Func::Extension | Func::HasExtension => {
                let url = self.string_arg(&args[0], input)?;
                let mut out = Vec::new();
                let mut nodes = Vec::new();
                let mut urls = Vec::new();
                for item in &items {
                    let Item::Node(node) = item else { continue };
                    nodes.clear();
                    match *node {
                        Node::Object(..) => self.children(*node, "extension", &mut nodes),
                        Node::Primitive(p, _) => p.extensions(&mut nodes),
                        Node::Text(..) => {}
                    }
                    for x in nodes.drain(..) {
                        urls.clear();
                        self.children(x, "url", &mut urls);
                        if urls
                            .iter()
                            .any(|u| u.primitive().and_then(|p| p.as_str()) == url.as_deref())
                        {
                            out.push(Item::Node(x));
                        }
                    }
                }
                if func == Func::HasExtension {
                    boolean(!out.is_empty())
                } else {
                    out
                }
            }
            Func::Resolve => {
                let mut out = Vec::new();
                for item in &items {
                    self.resolve(item, &mut out);
                }
                out
            }
            Func::HasValue => match items.as_slice() {
                [Item::Node(n)] => boolean(n.primitive().is_some()),
                _ => boolean(false),
            },
            Func::StartsWith | Func::EndsWith | Func::Contains => {
                let arg = self.string_arg(&args[0], input)?;
                match (items.as_slice(), arg) {
                    ([], _) | (_, None) => Vec::new(),
                    ([item], Some(arg)) => {
                        let Some(s) = item.primitive().and_then(|p| p.as_str().map(str::to_owned))
                        else {
                            return error("a string function takes a string");
                        };
                        boolean(match func {
                            Func::StartsWith => s.starts_with(&*arg),
                            Func::EndsWith => s.ends_with(&*arg),
                            _ => s.contains(&*arg),
                        })
                    }
                    _ => return error("a string function takes one item"),
                }
            }
            _ => return self.more(func, items, args, input),
        })
    }

    /// The functions the definitions' invariants use beyond those of search parameters.
    fn more(
        &self,
        func: Func,
        items: Collection<'a>,
        args: &'a [Expr],
        input: &[Item<'a>],
    ) -> Result<Collection<'a>, EvalError> {
        let boolean = |b: bool| vec![Item::Bool(b)];
        Ok(match func {
            Func::Matches => {
                let pattern = self.string_arg(&args[0], input)?;
                let (Some(s), Some(pattern)) = (one_string(&items)?, pattern) else {
                    return Ok(Vec::new());
                };
                let Some(regex) = cached_regex(&pattern) else {
                    return error("matches() has an invalid regex");
                };
                boolean(regex.is_match(&s))
            }
            Func::IsDistinct => {
                let mut seen: Collection<'a> = Vec::with_capacity(items.len());
                for item in items {
                    if seen.iter().any(|x| equal(x, &item, false) == Some(true)) {
                        return Ok(boolean(false));
                    }
                    seen.push(item);
                }
                boolean(true)
            }
            Func::Trace => items,
            Func::Iif => {
                let context = if items.is_empty() { input } else { &items[..] };
                if truth(&self.eval(&args[0], context)?)? == Some(true) {
                    self.eval(&args[1], context)?
                } else if let Some(otherwise) = args.get(2) {
                    self.eval(otherwise, context)?
                } else {
                    Vec::new()
                }
            }
            Func::Length => match one_string(&items)? {
                Some(s) => vec![Item::Integer(s.chars().count() as i64)],
                None => Vec::new(),
            },
            Func::ToInteger => match items.as_slice() {
                [] => Vec::new(),
                [item] => match item.primitive() {
                    Some(Prim::Integer(i)) => vec![Item::Integer(i)],
                    Some(Prim::Bool(b)) => vec![Item::Integer(b as i64)],
                    Some(p) => p
                        .as_str()
                        .and_then(|s| s.parse::<i64>().ok())
                        .map(Item::Integer)
                        .into_iter()
                        .collect(),
                    None => Vec::new(),
                },
                _ => return error("toInteger() takes one item"),
            },
            Func::ToString => match items.as_slice() {
                [] => Vec::new(),
                [item] => match item.primitive() {
                    Some(Prim::Integer(i)) => vec![Item::String(Cow::Owned(i.to_string()))],
                    Some(Prim::Bool(b)) => vec![Item::String(Cow::Owned(b.to_string()))],
                    Some(p) => p
                        .as_str()
                        .map(|s| Item::String(Cow::Owned(s.to_string())))
                        .into_iter()
                        .collect(),
                    None => Vec::new(),
                },
                _ => return error("toString() takes one item"),
            },
            Func::Substring => {
                let Some(s) = one_string(&items)? else {
                    return Ok(Vec::new());
                };
                let start = self.integer_arg(&args[0], input)?;
                let length = match args.get(1) {
                    Some(a) => self.integer_arg(a, input)?,
                    None => Some(i64::MAX),
                };
                match (start, length) {
                    (Some(start), Some(length))
                        if start >= 0 && (start as usize) < s.chars().count() =>
                    {
                        let length = length.max(0) as usize;
                        let out: String = s.chars().skip(start as usize).take(length).collect();
                        vec![Item::String(Cow::Owned(out))]
                    }
                    _ => Vec::new(),
                }
            }
            // The narrative's XHTML rules are checked natively (txt-1, txt-2).
            Func::HtmlChecks => boolean(true),
            Func::Children | Func::Descendants => {
                let mut out = Vec::new();
                let mut next: Vec<Node<'a>> = items.iter().filter_map(Item::node).collect();
                while !next.is_empty() {
                    let mut found = Vec::new();
                    for node in next {
                        self.all_children(node, &mut found);
                    }
                    out.extend(found.iter().copied().map(Item::Node));
                    next = if func == Func::Descendants {
                        found
                    } else {
                        Vec::new()
                    };
                }
                out
            }
            Func::Combine => {
                let mut out = items;
                out.extend(self.eval(&args[0], input)?);
                out
            }
            Func::Single => match items.len() {
                0 | 1 => items,
                _ => return error("single() of more than one item"),
            },
            _ => return self.set_function(func, items, args, input),
        })
    }

    /// Every child of a node: each element of a struct in order, the extensions of a
    /// primitive.
    fn all_children(&self, node: Node<'a>, out: &mut Vec<Node<'a>>) {
        match node {
            Node::Object(o, _) => {
                let count = self
                    .table
                    .types
                    .get(o.type_index() as usize)
                    .map_or(0, |t| t.elements.len());
                for i in 0..count {
                    o.member(i, out);
                }
            }
            Node::Primitive(p, _) => p.extensions(out),
            Node::Text(..) => {}
        }
    }

    fn integer_arg(&self, arg: &'a Expr, input: &[Item<'a>]) -> Result<Option<i64>, EvalError> {
        match self.eval(arg, input)?.as_slice() {
            [] => Ok(None),
            [item] => match item.primitive() {
                Some(Prim::Integer(i)) => Ok(Some(i)),
                _ => error("expected an integer argument"),
            },
            _ => error("expected one integer argument"),
        }
    }

    pub(crate) fn string_arg(
        &self,
        arg: &'a Expr,
        input: &[Item<'a>],
    ) -> Result<Option<Cow<'a, str>>, EvalError> {
        let v = self.eval(arg, input)?;
        match v.as_slice() {
            [] => Ok(None),
            [Item::String(s)] => Ok(Some(s.clone())),
            [item] => match item.primitive() {
                Some(Prim::String(s)) => Ok(Some(Cow::Owned(s.to_string()))),
                _ => error("expected a string argument"),
            },
            _ => error("expected one string argument"),
        }
    }

    /// `resolve()` of one item: a contained resource for `#id`, the caller's resource when
    /// its resolver has it, else the resource type the reference names.
    fn resolve(&self, item: &Item<'a>, out: &mut Collection<'a>) {
        let Item::Node(node) = item else { return };
        let reference: &'a str = match *node {
            Node::Object(..) => {
                let mut refs = Vec::new();
                self.children(*node, "reference", &mut refs);
                match refs.first().and_then(|r| r.primitive()) {
                    Some(Prim::String(s)) => s,
                    _ => return,
                }
            }
            Node::Primitive(..) | Node::Text(..) => match node.primitive() {
                Some(Prim::String(s)) => s,
                _ => return,
            },
        };
        if let Some(id) = reference.strip_prefix('#') {
            if let Some(resource) = self.resource {
                let mut contained = Vec::new();
                self.children(resource, "contained", &mut contained);
                let mut ids = Vec::new();
                for c in contained {
                    ids.clear();
                    self.children(c, "id", &mut ids);
                    if ids.iter().any(|i| i.primitive() == Some(Prim::String(id))) {
                        out.push(Item::Node(c));
                        return;
                    }
                }
            }
            return;
        }
        if let Some(resolver) = self.resolver {
            if let Some(found) = resolver(reference) {
                out.push(Item::Node(found));
                return;
            }
        }
        if let Some((ty, _)) =
            super::extract::split_reference(reference, |t| self.table.resource(t).is_some())
        {
            out.push(Item::Reference(ty));
        }
    }
}

/// The string of a collection of at most one string item.
pub(crate) fn one_string<'a>(items: &[Item<'a>]) -> Result<Option<Cow<'a, str>>, EvalError> {
    match items {
        [] => Ok(None),
        [Item::String(s)] => Ok(Some(s.clone())),
        [item] => match item.primitive() {
            Some(p) => match p.as_str() {
                Some(s) => Ok(Some(Cow::Owned(s.to_string()))),
                None => error("a string function takes a string"),
            },
            None => error("a string function takes a string"),
        },
        _ => error("a string function takes one item"),
    }
}

/// The compiled regex of a `matches()` pattern, kept for the life of the process (the
/// patterns are those of the definitions' invariants, a small set).
pub(crate) fn cached_regex(pattern: &str) -> Option<&'static regex::Regex> {
    use std::collections::HashMap;
    use std::sync::{OnceLock, RwLock};
    type Cache = RwLock<HashMap<String, Option<&'static regex::Regex>>>;
    static CACHE: OnceLock<Cache> = OnceLock::new();
    let cache = CACHE.get_or_init(Default::default);
    if let Some(found) = cache.read().unwrap_or_else(|e| e.into_inner()).get(pattern) {
        return *found;
    }
    let compiled = regex::Regex::new(pattern)
        .ok()
        .map(|r| &*Box::leak(Box::new(r)));
    *cache
        .write()
        .unwrap_or_else(|e| e.into_inner())
        .entry(pattern.to_string())
        .or_insert(compiled)
}
