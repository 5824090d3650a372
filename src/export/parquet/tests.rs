//! The writer read back with the `parquet` crate's own reader: schema, levels, nulls, row
//! groups, metadata.

use std::fs::File;

use parquet::basic::{LogicalType, Repetition, Type as Physical};
use parquet::file::reader::{FileReader, SerializedFileReader};
use parquet::record::{Field, ListAccessor as _};

use super::*;

/// Rows given as cells.
struct Grid(Vec<Vec<Datum<'static>>>);

impl Rows for Grid {
    fn len(&self) -> usize {
        self.0.len()
    }
    fn cell(&self, row: usize, column: usize) -> Datum<'_> {
        self.0[row][column]
    }
}

static V3: [f32; 3] = [0.5, -1.0, 2.25];

fn written(columns: &[ColumnSpec], rows: &Grid) -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("t.parquet");
    let report = crate::export::write_file_atomically(&path, |w| {
        write(w, columns, rows, vec![("k".into(), "v".into())])
    })
    .expect("write");
    assert_eq!(report.rows, rows.len());
    assert_eq!(
        report.bytes,
        std::fs::metadata(&path).expect("metadata").len()
    );
    (dir, path)
}

fn read(path: &std::path::Path) -> (SerializedFileReader<File>, Vec<Vec<(String, Field)>>) {
    let reader = SerializedFileReader::new(File::open(path).expect("open")).expect("reader");
    let rows = reader
        .get_row_iter(None)
        .expect("rows")
        .map(|r| {
            r.expect("row")
                .get_column_iter()
                .map(|(n, f)| (n.clone(), f.clone()))
                .collect()
        })
        .collect();
    (reader, rows)
}

#[test]
fn every_type_reads_back_with_its_nulls() {
    use ColumnType::{Boolean, Double, FloatList, Int64, UInt64, Utf8};
    let columns = vec![
        ColumnSpec::new("i", Int64, false),
        ColumnSpec::new("u", UInt64, true),
        ColumnSpec::new("d", Double, true),
        ColumnSpec::new("b", Boolean, true),
        ColumnSpec::new("s", Utf8, true),
        ColumnSpec::new("e", FloatList, true),
    ];
    let rows = Grid(vec![
        vec![
            Datum::Int(7),
            Datum::Text("18446744073709551615"),
            Datum::Num(1.5),
            Datum::Num(1.0),
            Datum::Text("fox"),
            Datum::Floats(&V3),
        ],
        vec![
            Datum::Num(-3.0),
            Datum::Num(42.0),
            Datum::Num(f64::NAN),
            Datum::Num(0.0),
            Datum::Num(2.5),
            Datum::Null,
        ],
        vec![
            Datum::Text(" 12 "),
            Datum::Null,
            Datum::Null,
            Datum::Null,
            Datum::Null,
            Datum::Floats(&[]),
        ],
    ]);
    let (_dir, path) = written(&columns, &rows);
    let (reader, got) = read(&path);
    let meta = reader.metadata().file_metadata();
    assert_eq!(meta.num_rows(), 3);
    let kv = meta.key_value_metadata().expect("kv");
    assert!(
        kv.iter()
            .any(|e| e.key == "k" && e.value.as_deref() == Some("v"))
    );
    assert!(kv.iter().any(|e| e.key == "assay.version"));
    let schema = meta.schema_descr();
    let want = [
        ("i", Physical::INT64, None, Repetition::REQUIRED),
        (
            "u",
            Physical::INT64,
            Some(LogicalType::integer(64, false)),
            Repetition::OPTIONAL,
        ),
        ("d", Physical::DOUBLE, None, Repetition::OPTIONAL),
        ("b", Physical::BOOLEAN, None, Repetition::OPTIONAL),
        (
            "s",
            Physical::BYTE_ARRAY,
            Some(LogicalType::String),
            Repetition::OPTIONAL,
        ),
    ];
    for (i, (name, physical, logical, rep)) in want.iter().enumerate() {
        let c = schema.column(i);
        assert_eq!(c.name(), *name);
        assert_eq!(c.physical_type(), *physical, "{name}");
        assert_eq!(c.logical_type_ref(), logical.as_ref(), "{name}");
        assert_eq!(c.self_type().get_basic_info().repetition(), *rep, "{name}");
    }
    let list = &schema.root_schema().get_fields()[5];
    assert_eq!(
        list.get_basic_info().logical_type_ref(),
        Some(&LogicalType::List)
    );
    assert_eq!(schema.column(5).physical_type(), Physical::FLOAT);

    let fields = |r: usize| got[r].iter().map(|(_, f)| f.clone()).collect::<Vec<_>>();
    let r0 = fields(0);
    assert_eq!(
        r0[..5],
        [
            Field::Long(7),
            Field::ULong(u64::MAX),
            Field::Double(1.5),
            Field::Bool(true),
            Field::Str("fox".into()),
        ]
    );
    let Field::ListInternal(l) = &r0[5] else {
        panic!("{:?}", r0[5])
    };
    assert_eq!(l.len(), 3);
    assert_eq!(
        (0..3)
            .map(|i| l.get_float(i).expect("float"))
            .collect::<Vec<_>>(),
        V3
    );
    assert_eq!(
        fields(1),
        [
            Field::Long(-3),
            Field::ULong(42),
            Field::Null,
            Field::Bool(false),
            Field::Str("2.5".into()),
            Field::Null,
        ]
    );
    let r2 = fields(2);
    assert_eq!(
        r2[..5],
        [
            Field::Long(12),
            Field::Null,
            Field::Null,
            Field::Null,
            Field::Null,
        ]
    );
    assert!(matches!(&r2[5], Field::ListInternal(l) if l.len() == 0));
}

#[test]
fn a_null_in_a_required_column_is_an_error_and_leaves_no_file() {
    let columns = vec![ColumnSpec::new("x", ColumnType::Double, false)];
    let rows = Grid(vec![vec![Datum::Num(1.0)], vec![Datum::Null]]);
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("t.parquet");
    let err =
        crate::export::write_file_atomically(&path, |w| write(w, &columns, &rows, Vec::new()))
            .expect_err("null in a required column");
    assert!(
        matches!(&err, Error::NullInRequired { column, row: 1 } if column == "x"),
        "{err}"
    );
    assert_eq!(
        std::fs::read_dir(dir.path()).expect("dir").count(),
        0,
        "neither the file nor its temporary"
    );
}

#[test]
fn rows_are_split_into_row_groups_and_no_rows_give_a_schema_only_file() {
    let columns = vec![ColumnSpec::new("n", ColumnType::Int64, false)];
    let rows = Grid(
        (0..=ROW_GROUP_ROWS as i64)
            .map(|i| vec![Datum::Int(i)])
            .collect(),
    );
    let (_dir, path) = written(&columns, &rows);
    let (reader, got) = read(&path);
    assert_eq!(reader.metadata().num_row_groups(), 2);
    assert_eq!(got.len(), ROW_GROUP_ROWS + 1);
    assert_eq!(got[ROW_GROUP_ROWS][0].1, Field::Long(ROW_GROUP_ROWS as i64));

    let (_dir, path) = written(&columns, &Grid(Vec::new()));
    let (reader, got) = read(&path);
    assert_eq!(reader.metadata().num_row_groups(), 0);
    assert!(got.is_empty());
    assert_eq!(
        reader
            .metadata()
            .file_metadata()
            .schema_descr()
            .num_columns(),
        1
    );
}
