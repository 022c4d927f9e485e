use serde_json::json;

use super::tables::{MAX_ROWS, number, parse_csv};
use super::*;

fn stage(name: &str, status: Status) -> StageView {
    StageView {
        name: name.into(),
        kind: "k".into(),
        status,
        why: vec!["not run before".into()],
        key: Some("0123456789abcdef0123".into()),
        wall_seconds: Some(1.5),
        inputs: vec![("x".into(), "up.out".into())],
        params: vec![ParamRow {
            name: "n".into(),
            value: "3".into(),
            source: "profile".into(),
            doc: "count".into(),
        }],
        artifacts: vec![
            Artifact {
                path: format!("{name}/plot.png"),
                bytes: 2048,
                dir: false,
            },
            Artifact {
                path: format!("{name}/data.csv"),
                bytes: 10,
                dir: false,
            },
        ],
        tables: Vec::new(),
        shared_by: 1,
        error: None,
        log_tail: None,
    }
}

fn page(stages: Vec<StageView>) -> Page {
    Page {
        title: "exp".into(),
        subtitle: None,
        up: None,
        extra_links: vec!["summary.md".into()],
        stages,
        fingerprint: None,
    }
}

/// Every `href="…"` and `src="…"` value of a page.
fn targets(html: &str) -> Vec<String> {
    let mut out = Vec::new();
    for attr in ["href=\"", "src=\""] {
        for part in html.split(attr).skip(1) {
            out.push(part[..part.find('"').unwrap_or(0)].to_string());
        }
    }
    out
}

#[test]
fn hostile_names_and_values_are_escaped() {
    let evil = "<script>alert('x')</script>\"&";
    let mut s = stage(evil, Status::Failed);
    s.kind = evil.into();
    s.params[0].value = evil.into();
    s.params[0].name = evil.into();
    s.why = vec![evil.into()];
    s.error = Some(evil.into());
    s.log_tail = Some(evil.into());
    s.artifacts[0].path = format!("{evil}/a\" onerror=\"x.png");
    s.tables.push(Table {
        caption: evil.into(),
        source: "a.csv".into(),
        header: vec![evil.into()],
        rows: vec![vec![evil.into()]],
        truncated: false,
        ratio_columns: Vec::new(),
    });
    let mut p = page(vec![s]);
    p.title = evil.into();
    p.subtitle = Some(evil.into());
    let html = render_page(&p);
    assert!(!html.contains("<script>alert"), "{html}");
    assert!(!html.contains("onerror=\""));
    assert!(html.contains("&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;&quot;&amp;"));
    // The page's only script tags are none (a page without a sortable table carries no script).
    assert_eq!(html.matches("<script").count(), 0);
    // The image source is percent-encoded: quotes and angle brackets cannot end the attribute.
    assert!(html.contains(
        "src=\"%3Cscript%3Ealert%28%27x%27%29%3C/script%3E%22%26/a%22%20onerror%3D%22x.png\""
    ));
}

#[test]
fn links_are_relative_and_encoded() {
    assert_eq!(href("st/a b#?.png"), "st/a%20b%23%3F.png");
    assert_eq!(href("/etc/passwd"), "./etc/passwd");
    assert_eq!(href("http://x/y"), "http%3A//x/y");
    let mut p = page(vec![stage("a", Status::Ran), stage("b", Status::Cached)]);
    p.up = Some("../index.html".into());
    let html = render_page(&p);
    let t = targets(&html);
    assert!(t.contains(&"a/plot.png".to_string()));
    assert!(t.contains(&"../index.html".to_string()));
    for target in t {
        assert!(
            !target.contains("://") && !target.starts_with('/'),
            "not relative: {target}"
        );
    }
    assert_eq!(html.matches("<img src=\"b/plot.png\"").count(), 1);
    // No remote resource of any kind: the page is self-contained.
    assert!(!html.contains("http://") && !html.contains("https://"));
    assert!(html.contains("@media (max-width:700px)"));
}

#[test]
fn a_stage_section_shows_status_why_key_wall_params_and_files() {
    let html = render_page(&page(vec![stage("a", Status::Ran)]));
    for needle in [
        "badge b-ran",
        "<li>not run before</li>",
        "0123456789abcdef0123",
        "1.50 s",
        "<td>profile</td>",
        ">a/data.csv</a>",
        "2.0 kB",
        "<code>x</code> ← <code>up.out</code>",
    ] {
        assert!(html.contains(needle), "missing {needle}");
    }
}

#[test]
fn failed_stage_shows_error_and_log_tail() {
    let mut s = stage("bad", Status::Failed);
    s.error = Some("stage bad: diverged at step 7".into());
    s.log_tail = Some("step 6 ok\nstep 7 NaN".into());
    s.artifacts.clear();
    let html = render_page(&page(vec![s]));
    assert!(html.contains("<pre class=\"error\">stage bad: diverged at step 7</pre>"));
    assert!(html.contains("<pre class=\"log\">step 6 ok\nstep 7 NaN</pre>"));
    assert!(html.contains("1 failed"));
}

#[test]
fn log_tail_reads_the_last_lines_of_the_named_log() {
    let dir = tempfile::tempdir().expect("tempdir");
    let log = dir.path().join("failed-x.log");
    let text: String = (0..100).map(|i| format!("line {i}\n")).collect();
    std::fs::write(&log, text).expect("write log");
    let msg = format!("stage x: boom\n  log: {}", log.display());
    let tail = super::collect::log_tail_for_tests(&msg).expect("a tail");
    assert!(
        tail.starts_with("line 60\n") && tail.ends_with("line 99"),
        "{tail}"
    );
    assert_eq!(super::collect::log_tail_for_tests("stage x: boom"), None);
}

#[test]
fn sweep_page_has_a_sortable_table_linking_variants_and_marks_shared_stages() {
    let p = SweepPage {
        title: "sw".into(),
        header: vec!["variant".into(), "a.lr".into(), "m.mae".into()],
        rows: vec![
            vec!["v000".into(), "0.1".into(), "2.5".into()],
            vec!["v001".into(), "0.01".into(), "".into()],
        ],
        links: vec![Some("v000/index.html".into()), None],
        stages: vec![
            SharedStage {
                name: "data".into(),
                kind: "k".into(),
                jobs: 1,
                variants: 2,
            },
            SharedStage {
                name: "fit".into(),
                kind: "k".into(),
                jobs: 2,
                variants: 2,
            },
        ],
        extra_links: vec!["sweep_summary.csv".into()],
        tables: vec![Table {
            caption: "Spread over replicates".into(),
            source: "sweep_groups.csv".into(),
            header: vec!["config".into(), "mae mean".into()],
            rows: vec![vec!["a".into(), "0.5".into()]],
            truncated: false,
            ratio_columns: Vec::new(),
        }],
        figures: vec!["sweep_band_eval_curve.png".into()],
    };
    let html = render_sweep(&p);
    assert!(html.contains("<table class=\"sortable\" id=\"summary\">"));
    assert!(html.contains("<thead><tr><th>variant</th><th>a.lr</th><th>m.mae</th></tr></thead>"));
    assert!(html.contains("document.querySelectorAll('table.sortable')"));
    assert!(html.contains("<td><a href=\"v000/index.html\">v000</a></td>"));
    // A variant without a page is not linked.
    assert!(html.contains("<td>v001</td>"));
    assert!(html.contains("shared: 1 job for 2 variants"));
    assert!(html.contains("one job per variant"));
    assert_eq!(html.matches("<script>").count(), 1);
    assert!(html.contains("<h2>Spread over replicates</h2>"));
    assert_eq!(html.matches("<table class=\"sortable\"").count(), 2);
    assert!(html.contains("<a href=\"sweep_groups.csv\">"));
    assert!(html.contains("<img src=\"sweep_band_eval_curve.png\""));
}

#[test]
fn comparison_table_puts_the_ratio_beside_ours_and_the_paper() {
    let doc = json!({"title": "Table 3", "columns": ["mexp", "paper"], "reference_column": "paper",
        "rows": [{"name": "M1", "values": [0.006, 0.003]}, {"name": "Hc", "values": [0.02, 0.0]}]});
    let t = comparison_table(&doc, "t/table.json").expect("a comparison");
    assert_eq!(t.header, ["", "mexp", "paper", "mexp / paper"]);
    assert_eq!(t.rows[0], ["M1", "0.006", "0.003", "2"]);
    // A zero reference has no ratio.
    assert_eq!(t.rows[1][3], "");
    assert_eq!(t.ratio_columns, [3]);
    let mut html = String::new();
    super::render::table(&mut html, &t);
    assert!(html.contains("<td class=\"num ratio\">2</td>"));
    // Without a reference column it is not a comparison.
    let plain = json!({"columns": ["a"], "rows": []});
    assert!(comparison_table(&plain, "x").is_none());
    assert!(
        comparison_table(
            &json!({"columns": ["a"], "reference_column": "b", "rows": []}),
            "x"
        )
        .is_none()
    );
}

#[test]
fn csv_tables_parse_quotes_and_truncate() {
    let recs = parse_csv("a,\"b,c\"\r\n1,\"say \"\"hi\"\"\"\n2,x", 10);
    assert_eq!(
        recs,
        [vec!["a", "b,c"], vec!["1", "say \"hi\""], vec!["2", "x"]]
    );
    let long: String = std::iter::once("h\n".to_string())
        .chain((0..100).map(|i| format!("{i}\n")))
        .collect();
    let t = csv_table(&long, "c", "s/c.csv", false).expect("table");
    assert_eq!(t.rows.len(), MAX_ROWS);
    assert!(t.truncated);
    let short = csv_table("h\n1\n2\n", "c", "s/c.csv", false).expect("table");
    assert_eq!(short.rows.len(), 2);
    assert!(!short.truncated);
    assert!(csv_table("", "c", "s", false).is_none());
}

#[test]
fn metrics_json_becomes_key_value_rows_and_nested_json_does_not() {
    let t = json_scalars_table(&json!({"mae": 0.012345678, "n": 4, "ok": true}), "m", "m")
        .expect("flat");
    assert_eq!(
        t.rows,
        [vec!["mae", "0.01235"], vec!["n", "4"], vec!["ok", "true"]]
    );
    assert!(json_scalars_table(&json!({"a": {"b": 1}}), "m", "m").is_none());
    assert!(json_scalars_table(&json!([1, 2]), "m", "m").is_none());
}

#[test]
fn numbers_keep_four_significant_digits() {
    assert_eq!(number(0.020436108), "0.02044");
    assert_eq!(number(123.456), "123.5");
    assert_eq!(number(3.0), "3");
    assert_eq!(number(1.5e-7), "1.500e-7");
}
