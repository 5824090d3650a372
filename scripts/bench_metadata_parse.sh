#!/usr/bin/env bash
# Metadata parse time, this tree against a base commit, in one process (release build).
#
#   scripts/bench_metadata_parse.sh [BASE_REF] [DIR ...]
#
# BASE_REF defaults to `main`; DIRs default to ../shared/fixtures and ../shared/metadata-samples.
# A scratch crate (in a temp dir, built offline from the local cargo registry) compiles two copies
# of `src/metadata`: `base` (from `git show BASE_REF:src/metadata/...`) and `head` (this working
# tree), plus the `image` crate's decoder for scale. It reads every image of the DIRs into memory,
# then times `read_metadata` over all of them, alternating base and head for ROUNDS rounds, and
# prints the median per-round time of each, their ratio, and the time to decode the same files
# (what an ingest does besides hashing, signals and the store), so the parse share of an ingest
# can be bounded. Stealth (pixel) reading is not timed: it runs only when no text carrier gave a
# prompt, identically in both.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
base=${1:-main}
shift || true
dirs=("$@")
if [ ${#dirs[@]} -eq 0 ]; then
    dirs=("$repo/../shared/fixtures" "$repo/../shared/metadata-samples")
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/src/base" "$work/src/head"
for f in $(git -C "$repo" ls-tree --name-only "$base" src/metadata/); do
    git -C "$repo" show "$base:$f" > "$work/src/base/$(basename "$f")"
done
cp "$repo"/src/metadata/*.rs "$work/src/head/"
# Each copy is a module tree rooted at mod.rs; tests are not compiled.
mv "$work/src/base/mod.rs" "$work/src/base.rs"
mv "$work/src/head/mod.rs" "$work/src/head.rs"
cat > "$work/Cargo.toml" <<'EOF'
[package]
name = "bench_metadata_parse"
version = "0.0.0"
edition = "2024"

[dependencies]
serde = { version = "1", features = ["derive"] }
serde_json = "1"
flate2 = "1"
image = { version = "0.25", default-features = false, features = ["png", "jpeg", "webp", "gif"] }

[profile.release]
debug = false
EOF
cat > "$work/src/main.rs" <<'EOF'
#![allow(dead_code, unused_imports)]
mod base;
mod head;
use std::time::Instant;

const ROUNDS: usize = 15;

fn files(dir: &std::path::Path, out: &mut Vec<Vec<u8>>) {
    let Ok(rd) = std::fs::read_dir(dir) else { return };
    let mut entries: Vec<_> = rd.flatten().map(|e| e.path()).collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            files(&p, out);
        } else if matches!(
            p.extension().and_then(|e| e.to_str()).map(str::to_ascii_lowercase).as_deref(),
            Some("png" | "jpg" | "jpeg" | "webp" | "gif")
        ) {
            out.push(std::fs::read(&p).expect("read"));
        }
    }
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() {
    let mut data = Vec::new();
    for d in std::env::args().skip(1) {
        files(std::path::Path::new(&d), &mut data);
    }
    let bytes: usize = data.iter().map(Vec::len).sum();
    let (lb, lh) = (base::Limits::default(), head::Limits::default());
    let (mut tb, mut th) = (Vec::new(), Vec::new());
    let mut found = (0, 0);
    for _ in 0..ROUNDS {
        let t = Instant::now();
        found.0 = data.iter().filter(|b| base::read_metadata(b, None, &lb).positive.is_some()).count();
        tb.push(t.elapsed().as_secs_f64());
        let t = Instant::now();
        found.1 = data.iter().filter(|b| head::read_metadata(b, None, &lh).positive.is_some()).count();
        th.push(t.elapsed().as_secs_f64());
    }
    let t = Instant::now();
    let decoded = data.iter().filter(|b| image::load_from_memory(b).is_ok()).count();
    let decode = t.elapsed().as_secs_f64();
    let (mb, mh) = (median(tb), median(th));
    let n = data.len() as f64;
    println!("files: {} ({:.1} MB), {decoded} decodable", data.len(), bytes as f64 / 1e6);
    println!("base: {:.1} ms per round ({:.1} us/file), prompts found: {}", mb * 1e3, mb / n * 1e6, found.0);
    println!("head: {:.1} ms per round ({:.1} us/file), prompts found: {}", mh * 1e3, mh / n * 1e6, found.1);
    println!("head / base: {:.3}", mh / mb);
    println!("decode of the same files (one pass): {:.1} ms ({:.0} us/file)", decode * 1e3, decode / n * 1e6);
    println!("parse share of decode: base {:.2} %, head {:.2} %", 100.0 * mb / decode, 100.0 * mh / decode);
}
EOF
cd "$work"
cargo build --release --offline --quiet 2>&1 | grep -v "^warning\|^ *|\|^ *=\|^$" | grep -E "error" -A5 || true
./target/release/bench_metadata_parse "${dirs[@]}"
