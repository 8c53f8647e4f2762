//! Where in JSON text the values of issues are: their lines and columns, found in one pass over
//! the text however many issues there are.

use crate::json::{JsonReader, PathSegment, ReadOptions};

/// A node of the tree of the paths looked for.
struct Node {
    segment: Option<PathSegment>,
    parent: usize,
    children: Vec<usize>,
    /// Where the value starts, once found.
    pos: Option<usize>,
}

/// The line and column (from 1) where the value at each path (of members and items from the
/// root value) starts in `text`, or where the deepest value found on the way starts.
pub(super) fn json(text: &str, paths: &[Vec<PathSegment>]) -> Vec<Option<(usize, usize)>> {
    let mut nodes = vec![Node {
        segment: None,
        parent: 0,
        children: Vec::new(),
        pos: None,
    }];
    let mut ends = Vec::with_capacity(paths.len());
    for path in paths {
        let mut at = 0;
        for segment in path {
            let found = nodes[at]
                .children
                .iter()
                .copied()
                .find(|&c| nodes[c].segment.as_ref() == Some(segment));
            at = match found {
                Some(child) => child,
                None => {
                    nodes.push(Node {
                        segment: Some(segment.clone()),
                        parent: at,
                        children: Vec::new(),
                        pos: None,
                    });
                    let child = nodes.len() - 1;
                    nodes[at].children.push(child);
                    child
                }
            };
        }
        ends.push(at);
    }
    let mut r = JsonReader::new(
        text,
        ReadOptions {
            max_depth: u32::MAX,
            ..ReadOptions::LENIENT
        },
    );
    let _ = visit(&mut r, &mut nodes, 0);
    let positions: Vec<Option<usize>> = ends
        .iter()
        .map(|&end| {
            let mut at = end;
            loop {
                if let Some(pos) = nodes[at].pos {
                    return Some(pos);
                }
                if at == 0 {
                    return None;
                }
                at = nodes[at].parent;
            }
        })
        .collect();
    line_columns(text, &positions)
}

/// Reads the value at the reader's position, noting where it starts and descending into the
/// members and items the tree looks for.
fn visit(r: &mut JsonReader<'_>, nodes: &mut [Node], at: usize) -> Option<()> {
    nodes[at].pos = Some(r.value_start());
    if nodes[at].children.is_empty() {
        return r.skip_value().ok();
    }
    match r.peek() {
        Some(b'{') => {
            r.begin_object("an object").ok()?;
            let mut first = true;
            while let Some(key) = r.next_key(first).ok()? {
                first = false;
                let child = nodes[at].children.iter().copied().find(
                    |&c| matches!(&nodes[c].segment, Some(PathSegment::Member(m)) if *m == key),
                );
                match child {
                    Some(child) => visit(r, nodes, child)?,
                    None => r.skip_value().ok()?,
                }
            }
            Some(())
        }
        Some(b'[') => {
            r.begin_array().ok()?;
            let mut i = 0;
            while r.next_item(i == 0).ok()? {
                let child =
                    nodes[at].children.iter().copied().find(
                        |&c| matches!(&nodes[c].segment, Some(PathSegment::Index(n)) if *n == i),
                    );
                match child {
                    Some(child) => visit(r, nodes, child)?,
                    None => r.skip_value().ok()?,
                }
                i += 1;
            }
            Some(())
        }
        _ => r.skip_value().ok(),
    }
}

/// The lines and columns (columns in characters) of byte offsets, in one pass over the text.
fn line_columns(text: &str, positions: &[Option<usize>]) -> Vec<Option<(usize, usize)>> {
    let mut order: Vec<usize> = (0..positions.len())
        .filter(|&i| positions[i].is_some())
        .collect();
    order.sort_by_key(|&i| positions[i]);
    let mut out = vec![None; positions.len()];
    let (mut line, mut line_start, mut scanned) = (1, 0, 0);
    let bytes = text.as_bytes();
    for i in order {
        let pos = positions[i].unwrap_or(0).min(text.len());
        for (offset, &b) in bytes[scanned..pos].iter().enumerate() {
            if b == b'\n' {
                line += 1;
                line_start = scanned + offset + 1;
            }
        }
        scanned = pos;
        let column = text
            .get(line_start..pos)
            .map_or(pos - line_start, |s| s.chars().count())
            + 1;
        out[i] = Some((line, column));
    }
    out
}
