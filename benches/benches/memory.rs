//! Peak heap memory per body byte of the strict readers, for the shapes of body that cost the
//! most memory per byte (hostile clients), and what stays allocated after a rejected body.
//!
//! `cargo bench -p fhir-bench --bench memory` (`MEMORY_BENCH_MIB` sets the body size, 32 by
//! default; `MEMORY_BENCH_EXAMPLES=1` also measures every official R4 example).
//!
//! A counting global allocator wraps the system allocator and keeps the live and the peak
//! bytes: what was asked for (`requested`) and what malloc actually reserved for it
//! (`malloc_usable_size`, `usable`). The peak is taken from just before the body is built, so it
//! includes the body itself: a server holds the body while it parses it.

use fhir_model::json::ReadOptions;
use fhir_model::r4::Resource;
use std::alloc::{GlobalAlloc, Layout, System};
use std::ffi::c_void;
use std::hint::black_box;
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};

mod common;

extern "C" {
    fn malloc_usable_size(ptr: *mut c_void) -> usize;
    fn malloc_trim(pad: usize) -> i32;
}

struct Counting;

static CURRENT: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);
static CURRENT_USABLE: AtomicUsize = AtomicUsize::new(0);
static PEAK_USABLE: AtomicUsize = AtomicUsize::new(0);

fn add(current: &AtomicUsize, peak: &AtomicUsize, n: usize) {
    let now = current.fetch_add(n, Relaxed) + n;
    peak.fetch_max(now, Relaxed);
}

fn usable(ptr: *mut u8) -> usize {
    // SAFETY: `ptr` is a live block of the system allocator (glibc malloc).
    unsafe { malloc_usable_size(ptr.cast()) }
}

// SAFETY: every call is passed on to `System`; the counters only observe.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let p = System.alloc(layout);
        if !p.is_null() {
            add(&CURRENT, &PEAK, layout.size());
            add(&CURRENT_USABLE, &PEAK_USABLE, usable(p));
        }
        p
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        let p = System.alloc_zeroed(layout);
        if !p.is_null() {
            add(&CURRENT, &PEAK, layout.size());
            add(&CURRENT_USABLE, &PEAK_USABLE, usable(p));
        }
        p
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        CURRENT.fetch_sub(layout.size(), Relaxed);
        CURRENT_USABLE.fetch_sub(usable(ptr), Relaxed);
        System.dealloc(ptr, layout)
    }
    // realloc counts as its size change: glibc grows large blocks with mremap, without holding
    // the old and the new block at once.
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let old_usable = usable(ptr);
        let p = System.realloc(ptr, layout, new_size);
        if !p.is_null() {
            if new_size >= layout.size() {
                add(&CURRENT, &PEAK, new_size - layout.size());
            } else {
                CURRENT.fetch_sub(layout.size() - new_size, Relaxed);
            }
            let new_usable = usable(p);
            if new_usable >= old_usable {
                add(&CURRENT_USABLE, &PEAK_USABLE, new_usable - old_usable);
            } else {
                CURRENT_USABLE.fetch_sub(old_usable - new_usable, Relaxed);
            }
        }
        p
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

fn reset_peaks() {
    PEAK.store(CURRENT.load(Relaxed), Relaxed);
    PEAK_USABLE.store(CURRENT_USABLE.load(Relaxed), Relaxed);
}

/// The process's resident set size, from /proc.
fn rss() -> usize {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<usize>().ok())
        .map_or(0, |kb| kb * 1024)
}

#[derive(Clone, Copy)]
enum Format {
    Json,
    Xml,
}

/// A body: `head`, then `item` repeated (separated by `sep`) until the body reaches `size`
/// bytes, then `tail`.
fn body(size: usize, head: &str, item: &str, sep: &str, tail: &str) -> Vec<u8> {
    let mut b = Vec::with_capacity(size + item.len() + tail.len());
    b.extend_from_slice(head.as_bytes());
    let mut first = true;
    while b.len() + item.len() + sep.len() + tail.len() <= size {
        if !first {
            b.extend_from_slice(sep.as_bytes());
        }
        first = false;
        b.extend_from_slice(item.as_bytes());
    }
    b.extend_from_slice(tail.as_bytes());
    b
}

/// Two parallel arrays of the same length: `given` and `_given`.
fn aligned(size: usize, value: &str, element: &str) -> Vec<u8> {
    let per = value.len() + element.len() + 2;
    let n = size.saturating_sub(80) / per;
    let mut s = String::with_capacity(size);
    s.push_str(r#"{"resourceType":"Patient","name":[{"given":["#);
    for i in 0..n {
        if i > 0 {
            s.push(',');
        }
        s.push_str(value);
    }
    s.push_str(r#"],"_given":["#);
    for i in 0..n {
        if i > 0 {
            s.push(',');
        }
        s.push_str(element);
    }
    s.push_str("]}]}");
    s.into_bytes()
}

/// Extensions nested `depth` levels deep, repeated side by side.
fn nested_extensions(size: usize, depth: usize) -> Vec<u8> {
    let mut item = String::new();
    for _ in 0..depth {
        item.push_str(r#"{"url":"a","extension":["#);
    }
    item.push_str(r#"{"url":"a"}"#);
    for _ in 0..depth {
        item.push_str("]}");
    }
    body(
        size,
        r#"{"resourceType":"Patient","extension":["#,
        &item,
        ",",
        "]}",
    )
}

fn xml_items(size: usize, head: &str, item: &str, tail: &str) -> Vec<u8> {
    body(
        size,
        &format!(r#"<Patient xmlns="http://hl7.org/fhir">{head}"#),
        item,
        "",
        &format!("{tail}</Patient>"),
    )
}

struct Shape {
    name: &'static str,
    format: Format,
    make: Box<dyn Fn(usize) -> Vec<u8>>,
}

fn shapes() -> Vec<Shape> {
    let json = |name, make: Box<dyn Fn(usize) -> Vec<u8>>| Shape {
        name,
        format: Format::Json,
        make,
    };
    let xml = |name, make: Box<dyn Fn(usize) -> Vec<u8>>| Shape {
        name,
        format: Format::Xml,
        make,
    };
    let items = |head: &'static str, item: &'static str, tail: &'static str| {
        Box::new(move |size| body(size, head, item, ",", tail)) as Box<dyn Fn(usize) -> Vec<u8>>
    };
    vec![
        json(
            "json given [\"a\",...]",
            items(
                r#"{"resourceType":"Patient","name":[{"given":["#,
                r#""a""#,
                "]}]}",
            ),
        ),
        json(
            "json given [null,...] alone",
            items(
                r#"{"resourceType":"Patient","name":[{"given":["#,
                "null",
                "]}]}",
            ),
        ),
        json(
            "json given + _given [{\"id\":\"a\"}]",
            Box::new(|size| aligned(size, r#""a""#, r#"{"id":"a"}"#)),
        ),
        json(
            "json given null + _given [{\"id\":\"a\"}]",
            Box::new(|size| aligned(size, "null", r#"{"id":"a"}"#)),
        ),
        json(
            "json _given [{\"extension\":[{\"url\":\"a\"}]}]",
            items(
                r#"{"resourceType":"Patient","name":[{"_given":["#,
                r#"{"extension":[{"url":"a"}]}"#,
                "]}]}",
            ),
        ),
        json(
            "json identifier [{},...]",
            items(r#"{"resourceType":"Patient","identifier":["#, "{}", "]}"),
        ),
        json(
            "json identifier [{\"system\":\"a\"}]",
            items(
                r#"{"resourceType":"Patient","identifier":["#,
                r#"{"system":"a"}"#,
                "]}",
            ),
        ),
        json(
            "json coding [{\"code\":\"a\"}]",
            items(
                r#"{"resourceType":"Observation","status":"final","code":{"coding":["#,
                r#"{"code":"a"}"#,
                "]}}",
            ),
        ),
        json(
            "json extension [{\"url\":\"a\"}]",
            items(
                r#"{"resourceType":"Patient","extension":["#,
                r#"{"url":"a"}"#,
                "]}",
            ),
        ),
        json(
            "json extension nested 45 deep",
            Box::new(|size| nested_extensions(size, 45)),
        ),
        json(
            "json extension nested 60 deep",
            Box::new(|size| nested_extensions(size, 60)),
        ),
        json(
            "json Bundle entry [{\"fullUrl\":\"a\"}]",
            items(
                r#"{"resourceType":"Bundle","type":"collection","entry":["#,
                r#"{"fullUrl":"a"}"#,
                "]}",
            ),
        ),
        json(
            "json Bundle entry Patient active",
            items(
                r#"{"resourceType":"Bundle","type":"collection","entry":["#,
                r#"{"resource":{"resourceType":"Patient","active":true}}"#,
                "]}",
            ),
        ),
        json(
            "json contained Patient active",
            items(
                r#"{"resourceType":"Patient","contained":["#,
                r#"{"resourceType":"Patient","active":true}"#,
                "]}",
            ),
        ),
        xml(
            "xml <given value=\"a\"/>",
            Box::new(|size| xml_items(size, "<name>", r#"<given value="a"/>"#, "</name>")),
        ),
        xml(
            "xml <given id=\"a\"/>",
            Box::new(|size| xml_items(size, "<name>", r#"<given id="a"/>"#, "</name>")),
        ),
        xml(
            "xml <identifier><system value=\"a\"/>",
            Box::new(|size| {
                xml_items(
                    size,
                    "",
                    r#"<identifier><system value="a"/></identifier>"#,
                    "",
                )
            }),
        ),
        xml(
            "xml <extension url=\"a\"/>",
            Box::new(|size| xml_items(size, "", r#"<extension url="a"/>"#, "")),
        ),
    ]
}

fn parse(format: Format, body: &[u8], options: ReadOptions) -> Result<Resource, String> {
    match format {
        Format::Json => fhir_model::json::from_slice_with::<Resource>(body, options)
            .map_err(|e| e.message().to_string()),
        Format::Xml => {
            fhir_model::xml::from_slice_with::<Resource>(body, options).map_err(|e| e.to_string())
        }
    }
}

const MIB: f64 = 1024.0 * 1024.0;

fn main() {
    // `cargo bench` passes `--bench`; a name filter may follow.
    let filter: Option<String> = std::env::args().skip(1).find(|a| !a.starts_with("--"));
    let size = std::env::var("MEMORY_BENCH_MIB")
        .ok()
        .and_then(|v| v.parse::<usize>().ok())
        .unwrap_or(32)
        << 20;
    println!(
        "Strict reading (`ReadOptions::STRICT`), {} MiB bodies:",
        size >> 20
    );
    table(size, filter.as_deref(), ReadOptions::STRICT);
    if std::env::var_os("MEMORY_BENCH_UNLIMITED").is_some() {
        println!();
        println!("The same without the memory limit (`max_memory_factor: 0`):");
        let options = ReadOptions {
            max_memory_factor: 0,
            ..ReadOptions::STRICT
        };
        table(size, filter.as_deref(), options);
    }

    rejected(size);

    if std::env::var_os("MEMORY_BENCH_EXAMPLES").is_some() {
        examples();
    }
}

fn table(size: usize, filter: Option<&str>, options: ReadOptions) {
    println!();
    println!("| shape | body bytes | peak requested | ratio | peak usable | ratio | result |");
    println!("| --- | ---: | ---: | ---: | ---: | ---: | --- |");
    for shape in shapes() {
        if filter.is_some_and(|f| !shape.name.contains(f)) {
            continue;
        }
        let base = CURRENT.load(Relaxed);
        let base_usable = CURRENT_USABLE.load(Relaxed);
        reset_peaks();
        let body = (shape.make)(size);
        let len = body.len();
        let result = parse(shape.format, &body, options);
        let peak = PEAK.load(Relaxed) - base;
        let peak_usable = PEAK_USABLE.load(Relaxed) - base_usable;
        let outcome = match &result {
            Ok(_) => "accepted".to_string(),
            Err(e) => format!("rejected: {}", e.chars().take(90).collect::<String>()),
        };
        drop(black_box(result));
        drop(body);
        println!(
            "| {} | {} | {} | {:.1}x | {} | {:.1}x | {} |",
            shape.name,
            len,
            peak,
            peak as f64 / len as f64,
            peak_usable,
            peak_usable as f64 / len as f64,
            outcome
        );
    }
}

/// What stays allocated after a body is rejected at its very end.
fn rejected(size: usize) {
    // Start from a trimmed heap, so the RSS figures are this body's alone.
    // SAFETY: glibc's malloc_trim only returns free memory to the system.
    unsafe { malloc_trim(0) };
    for (name, item) in [
        ("one-character given list", r#""a""#),
        (
            "given list of 16-character strings",
            r#""aaaaaaaaaaaaaaaa""#,
        ),
    ] {
        println!();
        println!(
            "Rejected body: {name}, {} MiB, its last `}}` replaced by `x`:",
            size >> 20
        );
        let rss_before = rss();
        let live_before = CURRENT.load(Relaxed);
        reset_peaks();
        let mut body = body(
            size,
            r#"{"resourceType":"Patient","name":[{"given":["#,
            item,
            ",",
            "]}]}",
        );
        *body.last_mut().unwrap() = b'x';
        let result = parse(Format::Json, &body, ReadOptions::STRICT);
        let peak = PEAK.load(Relaxed) - live_before;
        let rss_parsed = rss();
        let error = result.err().unwrap_or_default();
        drop(body);
        let live_after = CURRENT.load(Relaxed) as isize - live_before as isize;
        let rss_after = rss();
        // SAFETY: as above.
        unsafe { malloc_trim(0) };
        let rss_trimmed = rss();
        println!("- error: {}", error.chars().take(120).collect::<String>());
        println!("- peak while reading: {:.1} MiB", peak as f64 / MIB);
        println!("- live heap bytes after the body and the error are dropped: {live_after}");
        println!(
            "- RSS: {:.1} MiB before, {:.1} MiB once the reader returned, {:.1} MiB after dropping the body, {:.1} MiB after malloc_trim(0)",
            rss_before as f64 / MIB,
            rss_parsed as f64 / MIB,
            rss_after as f64 / MIB,
            rss_trimmed as f64 / MIB
        );
    }
}

/// The peak per body byte of every official R4 example (read as the JSON bench does).
fn examples() {
    let texts = common::r4_example_texts();
    let mut ratios = Vec::new();
    for text in &texts {
        let base = CURRENT.load(Relaxed);
        reset_peaks();
        let body = text.as_bytes().to_vec();
        let result = fhir_model::json::from_slice::<Resource>(&body);
        let peak = PEAK.load(Relaxed) - base;
        let ok = result.is_ok();
        drop(result);
        ratios.push((peak as f64 / body.len() as f64, body.len(), ok));
    }
    ratios.sort_by(|a, b| b.0.total_cmp(&a.0));
    let rejected = ratios.iter().filter(|r| !r.2).count();
    println!();
    println!(
        "R4 examples: {} files, {} rejected; peak/body of the worst: {}",
        ratios.len(),
        rejected,
        ratios
            .iter()
            .take(5)
            .map(|(r, len, _)| format!("{r:.1}x ({len} bytes)"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    for min in [16 << 10, 256 << 10] {
        let worst = ratios.iter().find(|r| r.1 >= min);
        if let Some((r, len, _)) = worst {
            println!(
                "- worst of the files of at least {} KiB: {r:.1}x ({len} bytes)",
                min >> 10
            );
        }
    }
}
