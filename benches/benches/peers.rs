//! fhir-model against fhirbolt (R4, JSON and XML) on the same bytes in the same run, as part
//! of `cargo bench -p fhir-bench`: runs `benches/peers`, a workspace of its own, and prints
//! what it prints. fhirbolt cannot be a dependency of this crate: it turns on serde_json's
//! `arbitrary_precision` and `preserve_order`, which would slow down the
//! `serde_json::Value` baseline of the `json` bench (see docs/performance.md).
//!
//! `cargo bench -p fhir-bench --bench peers` (`PEERS_ROUNDS`, `PEERS_ONLY` as in
//! `benches/peers/src/main.rs`)

use std::path::PathBuf;
use std::process::{exit, Command};

fn main() {
    // `cargo bench NAME` passes NAME as a filter to every bench: run only when it names this.
    let filters: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    if !filters.is_empty() && !filters.iter().any(|f| "peers".contains(f.as_str())) {
        return;
    }
    let here = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| here.join("../target"))
        .join("peers");
    let cargo = option_env!("CARGO").unwrap_or("cargo");
    let status = Command::new(cargo)
        .args(["run", "--release", "--manifest-path"])
        .arg(here.join("peers/Cargo.toml"))
        .env("CARGO_TARGET_DIR", target)
        .status();
    match status {
        Ok(s) if s.success() => {}
        Ok(s) => exit(s.code().unwrap_or(1)),
        Err(e) => {
            eprintln!("cannot run cargo for benches/peers: {e}");
            exit(1);
        }
    }
}
