//! `assay table --format parquet` and `assay export-signals` on a scan of the shared fixtures,
//! read back with the `parquet` crate's reader: column names and types, row count, and every
//! cell equal to `assay table --format json` (null where the JSON has null).

use std::fs::File;
use std::path::Path;

use parquet::basic::{LogicalType, Repetition, Type as Physical};
use parquet::file::reader::{FileReader, SerializedFileReader};
use parquet::record::{Field, ListAccessor as _};
use serde_json::Value;

use crate::common::{fixtures_dir, run, scan_json, stderr, stdout, table_json};

/// Every row of a Parquet file as `(column, field)` pairs, with the reader.
fn read(path: &Path) -> (SerializedFileReader<File>, Vec<Vec<(String, Field)>>) {
    let reader = SerializedFileReader::new(File::open(path).unwrap()).unwrap();
    let rows = reader
        .get_row_iter(None)
        .unwrap()
        .map(|r| {
            r.unwrap()
                .get_column_iter()
                .map(|(n, f)| (n.clone(), f.clone()))
                .collect()
        })
        .collect();
    (reader, rows)
}

/// Whether a Parquet field holds the value `assay table --format json` printed.
fn same(column: &str, got: &Field, want: &Value) -> bool {
    match got {
        Field::Null => want.is_null(),
        Field::Long(i) => want.as_i64() == Some(*i),
        Field::ULong(u) => want.as_u64() == Some(*u),
        // serde_json's default float parser may be one ulp off the printed digits.
        Field::Double(x) => want
            .as_f64()
            .is_some_and(|w| (w - x).abs() <= 2.0 * f64::EPSILON * x.abs()),
        Field::Bool(b) => want.as_f64() == Some(if *b { 1.0 } else { 0.0 }),
        Field::Str(s) if matches!(column, "raw" | "warnings" | "extra") => {
            serde_json::from_str::<Value>(s).unwrap_or_else(|_| Value::from(s.as_str())) == *want
        }
        Field::Str(s) => want.as_str() == Some(s.as_str()),
        other => panic!("{column}: unexpected field {other:?}"),
    }
}

/// A scan of the fixtures (no faces) with the tiny CLIP model's embeddings.
fn scanned(tmp: &Path, test: &str) -> Option<(std::path::PathBuf, std::path::PathBuf)> {
    let dir = fixtures_dir(test)?;
    let db = tmp.join("x.db");
    let (code, _) = scan_json(&dir, &db, &["--no-faces"]);
    assert!(code == 0 || code == 2, "scan exit {code}");
    let model = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/clip_tiny/hf");
    let o = run(&[
        "embed",
        dir.to_str().unwrap(),
        "--db",
        db.to_str().unwrap(),
        "--model",
        model.to_str().unwrap(),
        "--backend",
        "cpu",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    Some((dir, db))
}

#[test]
fn table_parquet_equals_table_json_cell_for_cell() {
    let tmp = tempfile::tempdir().unwrap();
    let Some((dir, db)) = scanned(tmp.path(), "table_parquet_equals_table_json_cell_for_cell")
    else {
        return;
    };
    let (d, b) = (dir.to_str().unwrap(), db.to_str().unwrap());
    let o = run(&["table", d, "--list-columns"]);
    let all = stdout(&o).lines().collect::<Vec<_>>().join(",");
    for extra in [
        vec!["--columns", all.as_str()],
        vec![
            "--columns",
            "path,seed,cfg,missing,blank,width",
            "--where",
            "width > 100",
            "--sort",
            "width:desc,path",
        ],
    ] {
        let want = table_json(&dir, &db, &extra);
        let out = tmp.path().join("t.parquet");
        let mut args = vec!["table", d, "--db", b, "--format", "parquet"];
        args.extend(["--out", out.to_str().unwrap()]);
        args.extend(&extra);
        let o = run(&args);
        assert!(o.status.success(), "{}", stderr(&o));
        let (reader, got) = read(&out);
        assert_eq!(
            reader.metadata().file_metadata().num_rows() as usize,
            want.len()
        );
        assert_eq!(got.len(), want.len());
        let columns: Vec<&str> = extra[1].split(',').collect();
        for (g, w) in got.iter().zip(&want) {
            let names: Vec<&str> = g.iter().map(|(n, _)| n.as_str()).collect();
            assert_eq!(names, columns, "columns in --columns order");
            for (name, field) in g {
                assert!(
                    same(name, field, &w[name.as_str()]),
                    "{} {name}: parquet {field:?}, json {}",
                    w["path"],
                    w[name.as_str()]
                );
            }
        }
    }

    // The types of the last file.
    let (reader, got) = read(&tmp.path().join("t.parquet"));
    let schema = reader.metadata().file_metadata().schema_descr();
    let want = [
        (
            "path",
            Physical::BYTE_ARRAY,
            Some(LogicalType::String),
            false,
        ),
        (
            "seed",
            Physical::INT64,
            Some(LogicalType::integer(64, false)),
            true,
        ),
        ("cfg", Physical::DOUBLE, None, true),
        ("missing", Physical::BOOLEAN, None, false),
        ("blank", Physical::BOOLEAN, None, true),
        ("width", Physical::INT64, None, true),
    ];
    for (i, (name, physical, logical, nullable)) in want.iter().enumerate() {
        let c = schema.column(i);
        assert_eq!(
            (c.name(), c.physical_type(), c.logical_type_ref()),
            (*name, *physical, logical.as_ref())
        );
        let rep = c.self_type().get_basic_info().repetition();
        assert_eq!(rep == Repetition::OPTIONAL, *nullable, "{name}");
    }
    assert!(
        got.iter().any(|r| r[1].1 == Field::Null) && got.iter().any(|r| r[1].1 != Field::Null),
        "some seeds, some nulls"
    );

    // `--out` writes the other formats too, byte for byte what stdout gets.
    let csv = tmp.path().join("t.csv");
    let o = run(&["table", d, "--db", b, "--out", csv.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    let o = run(&["table", d, "--db", b]);
    assert_eq!(std::fs::read(&csv).unwrap(), o.stdout);
}

#[test]
fn export_signals_writes_signals_and_embeddings() {
    let tmp = tempfile::tempdir().unwrap();
    let Some((dir, db)) = scanned(tmp.path(), "export_signals_writes_signals_and_embeddings")
    else {
        return;
    };
    let (d, b) = (dir.to_str().unwrap(), db.to_str().unwrap());
    let out = tmp.path().join("s.parquet");
    let o = run(&[
        "export-signals",
        d,
        "--db",
        b,
        "--out",
        out.to_str().unwrap(),
        "--embeddings",
        "all",
        "--format",
        "json",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let report: Value = serde_json::from_slice(&o.stdout).unwrap();
    let emb = &report["embeddings"][0];
    assert_eq!(emb["dim"], 16, "{report}");
    let column = emb["column"].as_str().unwrap().to_string();
    assert!(column.starts_with("embedding_hf_"), "{column}");
    assert_eq!(report["bytes"], std::fs::metadata(&out).unwrap().len());

    let want = table_json(
        &dir,
        &db,
        &["--columns", "path,hash,blur_laplacian_var,blank,error"],
    );
    let (reader, got) = read(&out);
    assert_eq!(report["rows"], want.len());
    assert_eq!(got.len(), want.len());
    let meta = reader.metadata().file_metadata();
    let kv = meta.key_value_metadata().unwrap();
    let dim_key = format!("assay.embedding.{column}.dim");
    assert!(
        kv.iter()
            .any(|e| e.key == dim_key && e.value.as_deref() == Some("16"))
    );
    let names: Vec<&str> = meta
        .schema_descr()
        .root_schema()
        .get_fields()
        .iter()
        .map(|f| f.name())
        .collect();
    assert_eq!(names[..3], ["id", "path", "hash"]);
    assert_eq!(names.last(), Some(&column.as_str()));
    assert_eq!(report["columns"].as_array().unwrap().len(), names.len());
    let mut with_vector = 0;
    for (g, w) in got.iter().zip(&want) {
        let field = |name: &str| &g.iter().find(|(n, _)| n == name).unwrap().1;
        assert!(matches!(field("id"), Field::Long(_)));
        for name in ["path", "hash", "blur_laplacian_var", "blank"] {
            assert!(same(name, field(name), &w[name]), "{} {name}", w["path"]);
        }
        match field(&column) {
            Field::ListInternal(l) => {
                assert_eq!(l.len(), 16);
                assert!(l.get_float(0).unwrap().is_finite());
                with_vector += 1;
            }
            other => assert_eq!(*other, Field::Null),
        }
    }
    assert_eq!(emb["images"], with_vector);
    assert!(with_vector > 0);

    // An unknown model key is a usage error that names the known ones.
    let o = run(&[
        "export-signals",
        d,
        "--db",
        b,
        "--out",
        out.to_str().unwrap(),
        "--embeddings",
        "nope",
    ]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("hf@"), "{}", stderr(&o));
}
