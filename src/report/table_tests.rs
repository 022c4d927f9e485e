use super::*;

fn anchor_table() -> Table {
    let mut t = Table::new(["structure", "n_grains", "Mr / Ms", "Hc / HA"]);
    t.push_row(vec![
        "θ = π/8".into(),
        Cell::Integer(64),
        0.97512.into(),
        (-0.48).into(),
    ])
    .unwrap();
    t.push_row(vec![
        "θ = π".into(),
        64i64.into(),
        0.68.into(),
        Cell::Number(f64::NAN),
    ])
    .unwrap();
    t.push_row(vec![
        "a|b, \"c\"".into(),
        Cell::Missing,
        1234567.0.into(),
        9.99996e-5.into(),
    ])
    .unwrap();
    t
}

#[test]
fn markdown_is_aligned_with_numbers_right_and_missing_as_dash() {
    // Widths are counted in characters: `θ`, `π` and `—` count one, the escaped `\|` two.
    let expected = "\
| structure | n_grains | Mr / Ms |  Hc / HA |
| --------- | -------: | ------: | -------: |
| θ = π/8   |       64 |  0.9751 |  -0.4800 |
| θ = π     |       64 |  0.6800 |        — |
| a\\|b, \"c\" |        — | 1.235e6 | 1.000e-4 |
";
    assert_eq!(anchor_table().to_markdown(), expected);
}

#[test]
fn csv_quotes_per_rfc_4180_and_leaves_missing_empty() {
    let mut t = anchor_table();
    t.push_row(vec![
        "two\nlines".into(),
        1i64.into(),
        0.1.into(),
        6.556367e-30.into(),
    ])
    .unwrap();
    assert_eq!(
        t.to_csv(),
        "structure,n_grains,Mr / Ms,Hc / HA\n\
         θ = π/8,64,0.97512,-0.48\n\
         θ = π,64,0.68,\n\
         \"a|b, \"\"c\"\"\",,1234567,9.99996e-5\n\
         \"two\nlines\",1,0.1,6.556367e-30\n"
    );
}

#[test]
fn significant_digit_policy() {
    let cases = [
        (0.0, "0.000"),
        (1.5, "1.500"),
        (6.556367, "6.556"),
        (-0.48, "-0.4800"),
        (9.9996, "10.00"),
        (99999.4, "1.000e5"),
        (123456.0, "1.235e5"),
        (0.001, "0.001000"),
        (0.00099996, "0.001000"),
        (0.0009, "9.000e-4"),
        (5217391.3, "5.217e6"),
        (f64::INFINITY, "inf"),
        (f64::NAN, "—"),
    ];
    for (value, text) in cases {
        assert_eq!(format_significant(value, 4), text, "{value}");
    }
    assert_eq!(format_significant(2.0 / 3.0, 2), "0.67");
    assert_eq!(format_significant(2.0 / 3.0, 0), "0.7");
}

#[test]
fn csv_numbers_parse_back_exactly() {
    for v in [0.1, 1.0 / 3.0, -6.556367e-30, 1e15, 12345.678, 5e-5, 0.0] {
        let text = format_round_trip(v);
        assert_eq!(
            text.parse::<f64>().unwrap().to_bits(),
            v.to_bits(),
            "{text}"
        );
    }
}

#[test]
fn rows_must_match_the_columns() {
    let mut t = Table::new(["a", "b"]);
    let err = t.push_row(vec![Cell::Integer(1)]).unwrap_err();
    assert_eq!(
        err.to_string(),
        "row 0 has 1 cells, expected 2 (one per column)"
    );
    assert!(t.rows().is_empty());
}

#[test]
fn files_are_written() {
    let dir = tempfile::tempdir().unwrap();
    let t = anchor_table();
    t.write_markdown(&dir.path().join("t.md")).unwrap();
    t.write_csv(&dir.path().join("t.csv")).unwrap();
    assert_eq!(
        std::fs::read_to_string(dir.path().join("t.md")).unwrap(),
        t.to_markdown()
    );
    assert_eq!(
        std::fs::read_to_string(dir.path().join("t.csv")).unwrap(),
        t.to_csv()
    );
    let err = t
        .write_csv(&dir.path().join("no/such/dir.csv"))
        .unwrap_err();
    assert!(err.to_string().contains("dir.csv"));
}
