//! Evaluation of an expression tree over borrowed [`Node`]s: collections are `Vec<Item>`,
//! members are found through the version's table once per (type, name).

use super::node::{Node, Prim};
use super::parser::{Expr, Name, Op, TypeSpec, Var};
use crate::xml::table::XmlTable;
use std::borrow::Cow;
use std::sync::atomic::Ordering::Relaxed;

/// One item of a FHIRPath collection.
#[derive(Clone, Debug)]
pub enum Item<'a> {
    /// A value of the resource.
    Node(Node<'a>),
    /// A computed or literal boolean.
    Bool(bool),
    /// A computed or literal integer.
    Integer(i64),
    /// A computed or literal decimal.
    Decimal(f64),
    /// A computed or literal string.
    String(Cow<'a, str>),
    /// What `resolve()` gives for a reference it did not follow: the resource type the
    /// reference names (`Patient` for `Patient/123` or `http://x/fhir/Patient/123`), enough
    /// for `resolve() is Patient`.
    Reference(&'a str),
    /// A computed instant, in nanoseconds since the epoch: a date's `lowBoundary()` or
    /// `highBoundary()`.
    Instant(i128),
    /// A computed quantity: value, unit system and unit code (or the unit's text when there
    /// is no code): a quantity's `lowBoundary()` or `highBoundary()`.
    Quantity(f64, Option<&'a str>, Option<&'a str>),
}

impl<'a> Item<'a> {
    /// The node, if the item is one.
    pub fn node(&self) -> Option<Node<'a>> {
        match self {
            Item::Node(n) => Some(*n),
            _ => None,
        }
    }

    /// The item as a primitive value (nodes of primitives, literals, computed values).
    pub fn primitive(&self) -> Option<Prim<'_>> {
        match self {
            Item::Node(n) => n.primitive(),
            Item::Bool(b) => Some(Prim::Bool(*b)),
            Item::Integer(i) => Some(Prim::Integer(*i)),
            Item::String(s) => Some(Prim::String(s)),
            Item::Decimal(_) | Item::Reference(_) | Item::Instant(_) | Item::Quantity(..) => None,
        }
    }

    /// The FHIR type name (`HumanName`, `dateTime`), or the System type of a computed value.
    pub fn type_name(&self) -> &'a str {
        match self {
            Item::Node(n) => n.type_name(),
            Item::Bool(_) => "Boolean",
            Item::Integer(_) => "Integer",
            Item::Decimal(_) => "Decimal",
            Item::String(_) => "String",
            Item::Reference(t) => t,
            Item::Instant(_) => "DateTime",
            Item::Quantity(..) => "Quantity",
        }
    }
}

/// An evaluation failure: an operand of the wrong kind or size.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EvalError {
    /// What went wrong.
    pub message: String,
}

impl std::fmt::Display for EvalError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for EvalError {}

pub(crate) fn error<T>(message: impl Into<String>) -> Result<T, EvalError> {
    Err(EvalError {
        message: message.into(),
    })
}

/// What `resolve()` asks the caller: the resource a reference points to, if it has it.
pub type Resolver<'a, 'r> = &'r dyn Fn(&str) -> Option<Node<'a>>;

/// What an evaluation runs in.
pub(crate) struct Ctx<'a, 'r> {
    pub(crate) table: &'static XmlTable,
    /// `%resource`
    pub(crate) resource: Option<Node<'a>>,
    /// `%rootResource`, when it is not `%resource`
    pub(crate) root_resource: Option<Node<'a>>,
    /// `%context`
    pub(crate) context: &'r [Item<'a>],
    pub(crate) resolver: Option<Resolver<'a, 'r>>,
    /// A buffer for the nodes of one member, reused (never held across a call).
    pub(crate) scratch: std::cell::RefCell<Vec<Node<'a>>>,
}

pub(crate) type Collection<'a> = Vec<Item<'a>>;

impl<'a> Ctx<'a, '_> {
    pub(crate) fn eval(
        &self,
        e: &'a Expr,
        input: &[Item<'a>],
    ) -> Result<Collection<'a>, EvalError> {
        Ok(match e {
            Expr::This => input.to_vec(),
            Expr::Var(Var::Resource) => self.resource.map(Item::Node).into_iter().collect(),
            Expr::Var(Var::RootResource) => self
                .root_resource
                .or(self.resource)
                .map(Item::Node)
                .into_iter()
                .collect(),
            Expr::Var(Var::Context) => self.context.to_vec(),
            Expr::Var(Var::Constant(s)) => vec![Item::String(Cow::Borrowed(s))],
            Expr::String(s) => vec![Item::String(Cow::Borrowed(s))],
            Expr::Integer(i) => vec![Item::Integer(*i)],
            Expr::Decimal(d) => vec![Item::Decimal(*d)],
            Expr::Bool(b) => vec![Item::Bool(*b)],
            Expr::Empty => Vec::new(),
            Expr::Member(target, name) => {
                // A path's first step reads the input as it is.
                let owned;
                let items: &[Item<'a>] = if matches!(**target, Expr::This) {
                    input
                } else {
                    owned = self.eval(target, input)?;
                    &owned
                };
                let mut out = Vec::with_capacity(items.len());
                let mut nodes = self.scratch.take();
                for item in items {
                    self.member(item, name, &mut nodes, &mut out);
                }
                *self.scratch.borrow_mut() = nodes;
                out
            }
            Expr::Index(target, index) => {
                let items = self.eval(target, input)?;
                let index = self.eval(index, input)?;
                match index.as_slice() {
                    [] => Vec::new(),
                    [Item::Integer(i)] => usize::try_from(*i)
                        .ok()
                        .and_then(|i| items.into_iter().nth(i))
                        .into_iter()
                        .collect(),
                    _ => return error("an index must be one integer"),
                }
            }
            Expr::Call(target, func, args, spec) => {
                let items = self.eval(target, input)?;
                self.call(*func, items, args, spec.as_ref(), input)?
            }
            Expr::Binary(op, l, r) => self.binary(*op, l, r, input)?,
            Expr::Is(target, spec) => {
                let items = self.eval(target, input)?;
                match items.as_slice() {
                    [] => Vec::new(),
                    [item] => vec![Item::Bool(self.is_type(item, spec))],
                    _ => return error("'is' takes one item"),
                }
            }
            Expr::As(target, spec) => {
                let items = self.eval(target, input)?;
                items
                    .into_iter()
                    .filter(|i| self.is_type(i, spec))
                    .collect()
            }
            Expr::Negate(target) => {
                let items = self.eval(target, input)?;
                match items.as_slice() {
                    [] => Vec::new(),
                    [Item::Integer(i)] => vec![Item::Integer(-i)],
                    [Item::Decimal(d)] => vec![Item::Decimal(-d)],
                    _ => return error("'-' takes one number"),
                }
            }
        })
    }

    /// The element index of `name` in type `ty`, through the name's one-entry cache.
    pub(crate) fn element_index(&self, name: &Name, ty: u16) -> Option<usize> {
        let key = (u32::from(ty) + 1) << 16;
        let cached = name.cache.load(Relaxed);
        if cached & 0xffff_0000 == key {
            let i = cached & 0xffff;
            return (i != 0xffff).then_some(i as usize);
        }
        let found = self.table.element(ty, &name.text).map(|(i, _)| i);
        name.cache
            .store(key | found.map_or(0xffff, |i| i as u32), Relaxed);
        found
    }

    fn member(
        &self,
        item: &Item<'a>,
        name: &Name,
        nodes: &mut Vec<Node<'a>>,
        out: &mut Collection<'a>,
    ) {
        let text = &*name.text;
        let Item::Node(node) = item else {
            return;
        };
        if text.starts_with(|c: char| c.is_ascii_uppercase()) {
            // A type name at the start of a path: the item itself when it is of that type.
            if self.is_type_name(node.type_name(), text) {
                out.push(item.clone());
            }
            return;
        }
        match *node {
            Node::Object(o, _) => {
                if let Some(i) = self.element_index(name, o.type_index()) {
                    nodes.clear();
                    o.member(i, nodes);
                    out.extend(nodes.drain(..).map(Item::Node));
                }
            }
            Node::Primitive(p, _) => match text {
                "extension" => {
                    nodes.clear();
                    p.extensions(nodes);
                    out.extend(nodes.drain(..).map(Item::Node));
                }
                "id" => out.extend(p.element_id().map(|s| Item::Node(Node::Text(s, "string")))),
                _ => {}
            },
            Node::Text(..) => {}
        }
    }

    /// The nodes of member `name` of an object node (no cache: for the extraction code,
    /// which names a few members of datatypes).
    pub(crate) fn children(&self, node: Node<'a>, name: &str, out: &mut Vec<Node<'a>>) {
        if let Node::Object(o, _) = node {
            if let Some((i, _)) = self.table.element(o.type_index(), name) {
                o.member(i, out);
            }
        }
    }

    /// The first node of member `name` of an object node.
    pub(crate) fn first_child(&self, node: Node<'a>, name: &str) -> Option<Node<'a>> {
        let mut nodes = self.scratch.take();
        nodes.clear();
        self.children(node, name, &mut nodes);
        let first = nodes.first().copied();
        *self.scratch.borrow_mut() = nodes;
        first
    }

    fn binary(
        &self,
        op: Op,
        l: &'a Expr,
        r: &'a Expr,
        input: &[Item<'a>],
    ) -> Result<Collection<'a>, EvalError> {
        if matches!(op, Op::And | Op::Or | Op::Xor | Op::Implies) {
            let a = truth(&self.eval(l, input)?)?;
            // `and`/`or` skip the right side when the left decides.
            match (op, a) {
                (Op::And, Some(false)) => return Ok(vec![Item::Bool(false)]),
                (Op::Or, Some(true)) => return Ok(vec![Item::Bool(true)]),
                (Op::Implies, Some(false)) => return Ok(vec![Item::Bool(true)]),
                _ => {}
            }
            let b = truth(&self.eval(r, input)?)?;
            let v = match op {
                Op::And => match (a, b) {
                    (Some(true), Some(true)) => Some(true),
                    (_, Some(false)) => Some(false),
                    _ => None,
                },
                Op::Or => match (a, b) {
                    (_, Some(true)) => Some(true),
                    (Some(false), Some(false)) => Some(false),
                    _ => None,
                },
                Op::Xor => match (a, b) {
                    (Some(x), Some(y)) => Some(x != y),
                    _ => None,
                },
                _ => match (a, b) {
                    (Some(true), b) => b,
                    (None, Some(true)) => Some(true),
                    _ => None,
                },
            };
            return Ok(v.map(Item::Bool).into_iter().collect());
        }
        let a = self.eval(l, input)?;
        let b = self.eval(r, input)?;
        Ok(match op {
            Op::Union => union(a, b),
            Op::Eq | Op::Ne | Op::Equiv | Op::NotEquiv => {
                let equiv = matches!(op, Op::Equiv | Op::NotEquiv);
                let result = if a.is_empty() || b.is_empty() {
                    if equiv {
                        Some(a.is_empty() && b.is_empty())
                    } else {
                        None
                    }
                } else {
                    Some(
                        a.len() == b.len()
                            && a.iter()
                                .zip(&b)
                                .all(|(x, y)| equal(x, y, equiv) == Some(true)),
                    )
                };
                let negate = matches!(op, Op::Ne | Op::NotEquiv);
                result
                    .map(|r| Item::Bool(r != negate))
                    .into_iter()
                    .collect()
            }
            Op::Lt | Op::Gt | Op::Le | Op::Ge => match (a.as_slice(), b.as_slice()) {
                ([], _) | (_, []) => Vec::new(),
                ([x], [y]) => match self.compare(x, y) {
                    Some(ord) => vec![Item::Bool(match op {
                        Op::Lt => ord.is_lt(),
                        Op::Gt => ord.is_gt(),
                        Op::Le => ord.is_le(),
                        _ => ord.is_ge(),
                    })],
                    None => Vec::new(),
                },
                _ => return error("a comparison takes one item on each side"),
            },
            Op::In | Op::Contains => {
                let (element, list) = if op == Op::In { (&a, &b) } else { (&b, &a) };
                match element.as_slice() {
                    [] => Vec::new(),
                    [x] => vec![Item::Bool(
                        list.iter().any(|y| equal(x, y, false) == Some(true)),
                    )],
                    _ => return error("'in' and 'contains' take one item"),
                }
            }
            Op::Concat => {
                let text = |c: &[Item<'a>]| -> Result<String, EvalError> {
                    match c {
                        [] => Ok(String::new()),
                        [x] => Ok(x
                            .primitive()
                            .and_then(|p| p.as_str())
                            .unwrap_or_default()
                            .to_string()),
                        _ => error("'&' takes one item on each side"),
                    }
                };
                vec![Item::String(Cow::Owned(text(&a)? + &text(&b)?))]
            }
            Op::Add | Op::Sub | Op::Mul | Op::Div | Op::IntDiv | Op::Mod => {
                super::arith::arithmetic(op, &a, &b)?
            }
            Op::And | Op::Or | Op::Xor | Op::Implies => unreachable!("handled above"),
        })
    }

    /// Whether `item` is of the type `spec` names, or of a type derived from it.
    pub(crate) fn is_type(&self, item: &Item<'_>, spec: &TypeSpec) -> bool {
        let ty = item.type_name();
        if spec.namespace.as_deref() == Some("System") {
            return system_type(item) == Some(&*spec.name);
        }
        if self.is_type_name(ty, &spec.name) {
            return true;
        }
        // An unqualified System name (`DateTime`, `String`) also matches the FHIR
        // primitives that convert to it.
        spec.namespace.is_none() && system_type(item) == Some(&*spec.name)
    }

    /// Whether type `ty` is `name` or derives from it.
    pub(crate) fn is_type_name(&self, ty: &str, name: &str) -> bool {
        if ty == name {
            return true;
        }
        // Only these types have types derived from them.
        if !matches!(
            name,
            "string" | "uri" | "integer" | "Quantity" | "Resource" | "DomainResource"
        ) {
            return false;
        }
        let mut t = ty;
        for _ in 0..4 {
            if t == name {
                return true;
            }
            match self.fhir_parent(t) {
                Some(p) => t = p,
                None => return false,
            }
        }
        false
    }

    fn fhir_parent(&self, t: &str) -> Option<&'static str> {
        Some(match t {
            "code" | "id" | "markdown" => "string",
            "canonical" | "url" | "oid" | "uuid" => "uri",
            "positiveInt" | "unsignedInt" => "integer",
            "Age" | "Distance" | "Duration" | "Count" | "SimpleQuantity" | "MoneyQuantity" => {
                "Quantity"
            }
            "DomainResource" => "Resource",
            "Bundle" | "Binary" | "Parameters" => "Resource",
            _ if self.table.resource(t).is_some() => "DomainResource",
            _ => return None,
        })
    }
}

/// The System type an item converts to.
fn system_type(item: &Item<'_>) -> Option<&'static str> {
    Some(match item.primitive()? {
        Prim::Bool(_) => "Boolean",
        Prim::Integer(_) => "Integer",
        Prim::Decimal(_) => "Decimal",
        Prim::String(_) | Prim::Code(..) => "String",
        Prim::Date(_) => "Date",
        Prim::DateTime(_) | Prim::Instant(_) => "DateTime",
        Prim::Time(_) => "Time",
    })
}

/// A collection as a boolean: empty is `None`, one boolean is itself, any other single item
/// is `true`.
pub(crate) fn truth(c: &[Item<'_>]) -> Result<Option<bool>, EvalError> {
    match c {
        [] => Ok(None),
        [item] => Ok(Some(match item.primitive() {
            Some(Prim::Bool(b)) => b,
            _ => true,
        })),
        _ => error("a boolean operand must be one item"),
    }
}

/// `a | b`: both, without repeats. Small collections are compared pairwise; large ones (a
/// CodeSystem's thousands of codes) through a hash of each item's value.
fn union<'a>(a: Collection<'a>, b: Collection<'a>) -> Collection<'a> {
    let mut distinct = Vec::with_capacity(a.len() + b.len());
    if a.len() + b.len() <= 16 {
        for item in a.into_iter().chain(b) {
            push_distinct(&mut distinct, item);
        }
        return distinct;
    }
    let mut seen = std::collections::HashSet::new();
    for item in a.into_iter().chain(b) {
        if seen.insert(DistinctKey::of(&item)) {
            distinct.push(item);
        }
    }
    distinct
}

/// What makes two items equal for `|`, hashable: the value of a primitive (numbers by value,
/// every string-valued type by its text), the identity of anything else.
#[derive(PartialEq, Eq, Hash)]
enum DistinctKey {
    Bool(bool),
    Number(u64),
    Text(String),
    Identity(usize),
    Reference(String),
}

impl DistinctKey {
    fn of(item: &Item<'_>) -> DistinctKey {
        let number = |f: f64| DistinctKey::Number(if f == 0.0 { 0 } else { f.to_bits() });
        match item {
            Item::Decimal(d) => number(*d),
            Item::Reference(t) => DistinctKey::Reference(t.to_string()),
            Item::Instant(t) => DistinctKey::Text(format!("@{t}")),
            Item::Quantity(v, s, c) => DistinctKey::Text(format!("{v} {s:?} {c:?}")),
            _ => match item.primitive() {
                Some(Prim::Bool(b)) => DistinctKey::Bool(b),
                Some(p @ (Prim::Integer(_) | Prim::Decimal(_))) => {
                    number(self::number(&p).unwrap_or(f64::NAN))
                }
                Some(p) => DistinctKey::Text(p.as_str().unwrap_or_default().to_string()),
                None => {
                    let address = match item {
                        Item::Node(Node::Object(o, _)) => {
                            *o as *const dyn super::node::Navigate as *const u8 as usize
                        }
                        Item::Node(Node::Primitive(p, _)) => {
                            *p as *const dyn super::node::PrimitiveElement as *const u8 as usize
                        }
                        _ => 0,
                    };
                    DistinctKey::Identity(address)
                }
            },
        }
    }
}

fn push_distinct<'a>(out: &mut Collection<'a>, item: Item<'a>) {
    if !out.iter().any(|x| same_or_equal(x, &item)) {
        out.push(item);
    }
}

fn same_or_equal(a: &Item<'_>, b: &Item<'_>) -> bool {
    match (a, b) {
        (Item::Node(x @ Node::Object(..)), Item::Node(y)) => x.same(y),
        _ => equal(a, b, false) == Some(true),
    }
}

fn number(p: &Prim<'_>) -> Option<f64> {
    match p {
        Prim::Integer(i) => Some(*i as f64),
        Prim::Decimal(d) => d.parse().ok(),
        _ => None,
    }
}

/// FHIRPath `=` (or `~` when `equiv`) of two items; `None` when they cannot be compared.
pub(crate) fn equal(a: &Item<'_>, b: &Item<'_>, equiv: bool) -> Option<bool> {
    let computed = |i: &Item<'_>| matches!(i, Item::Instant(_) | Item::Quantity(..));
    if computed(a) || computed(b) {
        return super::arith::equal_computed(a, b);
    }
    if let (Item::Decimal(x), other) | (other, Item::Decimal(x)) = (a, b) {
        return match other {
            Item::Decimal(y) => Some(x == y),
            _ => other.primitive().and_then(|p| number(&p)).map(|y| *x == y),
        };
    }
    if let (Item::Reference(x), Item::Reference(y)) = (a, b) {
        return Some(x == y);
    }
    match (a.primitive(), b.primitive()) {
        (Some(x), Some(y)) => Some(match (x, y) {
            (Prim::Bool(x), Prim::Bool(y)) => x == y,
            (
                x @ (Prim::Integer(_) | Prim::Decimal(_)),
                y @ (Prim::Integer(_) | Prim::Decimal(_)),
            ) => number(&x) == number(&y),
            (Prim::Bool(_), _) | (_, Prim::Bool(_)) => false,
            (Prim::Integer(_) | Prim::Decimal(_), _) | (_, Prim::Integer(_) | Prim::Decimal(_)) => {
                false
            }
            (x, y) => {
                let (x, y) = (
                    x.as_str().unwrap_or_default(),
                    y.as_str().unwrap_or_default(),
                );
                if equiv {
                    x.split_whitespace()
                        .map(str::to_lowercase)
                        .eq(y.split_whitespace().map(str::to_lowercase))
                } else {
                    x == y
                }
            }
        }),
        (None, None) => match (a, b) {
            (Item::Node(x), Item::Node(y)) if x.same(y) => Some(true),
            _ => None,
        },
        _ => Some(false),
    }
}
