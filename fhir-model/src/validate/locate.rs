//! Where in JSON text a path of members and items is: the line and column of issues found in
//! the tree read from it.

use crate::json::error::line_column;
use crate::json::{JsonReader, PathSegment, ReadOptions};

/// The line and column (from 1) where the value at `segments` (from the root value) starts in
/// `text`, or where the deepest value found on the way starts.
pub(super) fn json(text: &str, segments: &[PathSegment]) -> Option<(usize, usize)> {
    let mut r = JsonReader::new(
        text,
        ReadOptions {
            max_depth: u32::MAX,
            ..ReadOptions::LENIENT
        },
    );
    let mut pos = r.value_start();
    for segment in segments {
        let Some(found) = step(&mut r, segment) else {
            break;
        };
        pos = found;
    }
    Some(line_column(text, pos))
}

/// Moves into the member or item `segment` of the value at the reader's position; its start.
fn step(r: &mut JsonReader<'_>, segment: &PathSegment) -> Option<usize> {
    match segment {
        PathSegment::Member(name) => {
            r.begin_object("an object").ok()?;
            let mut first = true;
            while let Some(key) = r.next_key(first).ok()? {
                first = false;
                if key == name.as_str() {
                    return Some(r.value_start());
                }
                r.skip_value().ok()?;
            }
            None
        }
        PathSegment::Index(index) => {
            r.begin_array().ok()?;
            for i in 0..=*index {
                if !r.next_item(i == 0).ok()? {
                    return None;
                }
                if i < *index {
                    r.skip_value().ok()?;
                }
            }
            Some(r.value_start())
        }
    }
}
