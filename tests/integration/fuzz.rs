//! Issue 17: the fuzz harness in CI — every target (metadata parsers, image sniffing and
//! decoding, the expression language, policies, label lines, `.npy`/CSV) runs a few hundred
//! seeded mutations of the fixtures and built-in seeds in process; any panic fails the test
//! with the case that replays it (`assay bench fuzz --target T --seed S --from CASE --cases 1`).
//! Long runs: `assay bench fuzz --seconds N`.

use assay::fuzz::{self, Seeds};

/// Cases per target (the debug build runs all six targets in well under 30 s).
const CASES: u64 = 600;

#[test]
fn fuzz_targets_survive_seeded_mutations_of_the_fixtures() {
    let dirs = match crate::common::fixtures_dir("fuzz_targets_survive_seeded_mutations") {
        Some(f) => {
            let mut d = vec![f.clone()];
            if let Some(p) = f.parent() {
                d.push(p.join("metadata-samples"));
            }
            d.into_iter().filter(|d| d.is_dir()).collect()
        }
        None => Vec::new(),
    };
    let loaded = Seeds::load(&dirs);
    let mut total = 0;
    let mut findings = Vec::new();
    for t in fuzz::targets() {
        let seeds = (t.seeds)(&loaded);
        assert!(!seeds.is_empty(), "{} has seeds", t.name);
        let rep = fuzz::run_cases(&t, &seeds, 17, 0, CASES, || false);
        eprintln!(
            "fuzz {:<9} {:>5} cases in {:>5.2} s, slowest {:.1} ms, {} findings",
            t.name,
            rep.executions,
            rep.seconds,
            rep.slowest_ms,
            rep.findings.len()
        );
        total += rep.executions;
        findings.extend(rep.findings);
    }
    assert_eq!(total, CASES * 6);
    assert!(findings.is_empty(), "findings: {findings:#?}");
}

/// The `assay bench fuzz` front end: child workers, journals, totals.
#[test]
fn bench_fuzz_runs_workers_and_reports() {
    let out = tempfile::tempdir().unwrap();
    let o = crate::common::run(&[
        "bench",
        "fuzz",
        "--target",
        "expr",
        "--cases",
        "300",
        "--seed",
        "3",
        "--format",
        "json",
        "--out",
        out.path().to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", crate::common::stderr(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["executions"], 300);
    assert_eq!(v["targets"][0]["target"], "expr");
    assert_eq!(
        v["targets"][0]["findings"].as_array().map(Vec::len),
        Some(0)
    );
}
