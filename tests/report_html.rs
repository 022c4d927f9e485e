//! The HTML report end to end through the `mexp` binary on small `command` pipelines (`sh` only):
//! a failed stage's page shows the error and the end of its log, a sweep gets a sortable summary
//! page and one page per variant with shared stages marked, hostile parameter values are escaped,
//! every link resolves, and a cached rerun that changes nothing rewrites no page.

use std::path::Path;
use std::process::Output;

#[path = "support/html_links.rs"]
mod html_links;

#[path = "support/binary.rs"]
mod binary;
use binary::mexp;

fn printed(out: &Output) -> String {
    format!(
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

fn project(manifest: &str) -> tempfile::TempDir {
    let tmp = tempfile::tempdir().expect("tmp");
    std::fs::create_dir_all(tmp.path().join("experiments")).expect("mkdir");
    std::fs::write(tmp.path().join("experiments/demo.toml"), manifest).expect("write");
    tmp
}

fn read(p: &Path) -> String {
    std::fs::read_to_string(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

fn assert_links_resolve(page: &Path) {
    let (checked, broken) = html_links::broken_links(page, &read(page));
    assert!(checked > 0, "{} links to nothing", page.display());
    assert!(broken.is_empty(), "{}: {broken:?}", page.display());
}

const PIPELINE: &str = r#"
[experiment]
name = "demo"
seed = 3

[stages.gen]
kind = "command"
run = ["sh", "-c", "seq 1 {params.n} > \"$1\"; printf 'metric,value\nn,{params.n}\n' > \"$2\"", "gen", "{outputs.numbers}", "{outputs.table}"]
outputs = { numbers = "numbers.txt", table = "table.csv" }
params = { n = 4, note = "<script>alert('x')</script>" }

[stages.sum]
kind = "command"
run = ["sh", "-c", "s=0; for x in $(cat \"$1\"); do s=$((s + x)); done; echo \"{{\\\"total\\\": $s}}\" > \"$2\"", "sum", "{inputs.numbers}", "{outputs.metrics}"]
inputs = { numbers = "gen.numbers" }
outputs = { metrics = "metrics.json" }
"#;

#[test]
fn a_run_writes_an_escaped_page_whose_links_resolve_and_a_cached_rerun_rewrites_nothing() {
    let tmp = project(PIPELINE);
    let out = mexp(&["run", "experiments/demo.toml"], tmp.path());
    assert_eq!(out.status.code(), Some(0), "{}", printed(&out));
    let page = tmp.path().join("results/demo/index.html");
    assert!(printed(&out).contains("report: "), "{}", printed(&out));
    let html = read(&page);
    // The hostile parameter value is shown, escaped, never as markup.
    assert!(!html.contains("<script>alert"), "{html}");
    assert!(html.contains("&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;"));
    // Status and why, origin of a parameter, the CSV as a table, the metrics as key/value rows.
    assert!(html.contains("badge b-ran"));
    assert!(html.contains("<li>not run before</li>"));
    assert!(html.contains("<td>manifest</td>"));
    assert!(html.contains("<caption>gen/table.csv</caption>"));
    assert!(
        html.contains("<td>total</td><td class=\"num\">10</td>"),
        "{html}"
    );
    assert_links_resolve(&page);

    // The first rerun turns every stage from ran to cached; the one after changes nothing, and
    // the page is not rewritten (same inode, same mtime).
    let again = mexp(&["run", "experiments/demo.toml"], tmp.path());
    assert_eq!(again.status.code(), Some(0), "{}", printed(&again));
    assert!(read(&page).contains("badge b-cached"));
    let stamp = |p: &Path| {
        let m = std::fs::metadata(p).expect("page");
        (
            std::os::unix::fs::MetadataExt::ino(&m),
            m.modified().expect("mtime"),
        )
    };
    let before = stamp(&page);
    std::thread::sleep(std::time::Duration::from_millis(20));
    let third = mexp(&["run", "experiments/demo.toml"], tmp.path());
    assert_eq!(third.status.code(), Some(0), "{}", printed(&third));
    assert_eq!(stamp(&page), before, "a no-op rerun rewrote the page");

    // The page is skipped by its fingerprint on a no-op rerun: anything it shows that changes
    // must still rebuild it. A parameter change reruns both stages and the page says so.
    let set = mexp(
        &["run", "experiments/demo.toml", "--set", "gen.params.n=5"],
        tmp.path(),
    );
    assert_eq!(set.status.code(), Some(0), "{}", printed(&set));
    let html = read(&page);
    assert!(
        html.contains("<td>total</td><td class=\"num\">15</td>"),
        "{html}"
    );
    assert!(html.contains("--set"), "{html}");
    // A page replaced by something else (or damaged) is rebuilt, not trusted.
    std::fs::write(&page, "stale").expect("overwrite");
    let again = mexp(
        &["run", "experiments/demo.toml", "--set", "gen.params.n=5"],
        tmp.path(),
    );
    assert_eq!(again.status.code(), Some(0), "{}", printed(&again));
    assert!(read(&page).contains("<td>total</td><td class=\"num\">15</td>"));
}

#[test]
fn a_failed_stage_shows_its_error_and_the_end_of_its_log() {
    let tmp = project(
        r#"
[experiment]
name = "demo"
seed = 3

[stages.ok]
kind = "command"
run = ["sh", "-c", "echo 1 > \"$1\"", "ok", "{outputs.x}"]
outputs = { x = "x.txt" }

[stages.bad]
kind = "command"
run = ["sh", "-c", "for i in 1 2 3; do echo \"step $i fine\"; done; echo 'solver diverged at step 7' >&2; exit 3"]
outputs = { out = "out.txt" }

[stages.after]
kind = "command"
run = ["sh", "-c", "cat \"$1\" > \"$2\"", "after", "{inputs.y}", "{outputs.z}"]
inputs = { y = "bad.out" }
outputs = { z = "z.txt" }
"#,
    );
    let out = mexp(
        &["run", "experiments/demo.toml", "--keep-going"],
        tmp.path(),
    );
    assert_eq!(out.status.code(), Some(1), "{}", printed(&out));
    let page = tmp.path().join("results/demo/index.html");
    let html = read(&page);
    assert!(html.contains("badge b-failed"));
    assert!(html.contains("badge b-skipped"));
    let error = html
        .split("<pre class=\"error\">")
        .nth(1)
        .expect("an error block");
    assert!(error.contains("exit status: 3"), "{error}");
    let log = html
        .split("<pre class=\"log\">")
        .nth(1)
        .and_then(|s| s.split("</pre>").next())
        .expect("a log tail");
    assert!(log.contains("step 3 fine"), "{log}");
    assert!(log.contains("solver diverged at step 7"), "{log}");
    assert_links_resolve(&page);
}

#[test]
fn a_sweep_gets_a_sortable_summary_and_one_page_per_variant_with_shared_stages_marked() {
    let manifest = format!(
        "{PIPELINE}\n[stages.scale]\nkind = \"command\"\nrun = [\"sh\", \"-c\", \"echo {{params.k}} > \\\"$1\\\"\", \"scale\", \"{{outputs.k}}\"]\noutputs = {{ k = \"k.txt\" }}\nparams = {{ k = 1 }}\n\n[sweep]\nmode = \"grid\"\n\"scale.params.k\" = [1, 2, 3]\nreport = [\"sum.metrics.total\"]\n"
    );
    let tmp = project(&manifest);
    let out = mexp(&["run", "experiments/demo.toml"], tmp.path());
    assert_eq!(out.status.code(), Some(0), "{}", printed(&out));
    let top = tmp.path().join("results/demo/index.html");
    let html = read(&top);
    assert!(
        html.contains("<table class=\"sortable\" id=\"summary\">"),
        "{html}"
    );
    assert!(html.contains("<th>sum.metrics.total</th>"));
    for v in ["v000", "v001", "v002"] {
        assert!(html.contains(&format!("<a href=\"{v}/index.html\">{v}</a>")));
        let page = tmp.path().join(format!("results/demo/{v}/index.html"));
        let vhtml = read(&page);
        // gen and sum do not depend on the swept stage: one job serves all three variants.
        assert!(vhtml.contains("shared ×3"), "{vhtml}");
        assert!(vhtml.contains("<a href=\"../index.html\">"));
        assert_links_resolve(&page);
    }
    assert!(html.contains("shared: 1 job for 3 variants"));
    assert_links_resolve(&top);
}

#[test]
fn a_targeted_run_shows_the_stages_not_selected_as_skipped() {
    let tmp = project(PIPELINE);
    let out = mexp(&["run", "experiments/demo.toml", "gen"], tmp.path());
    assert_eq!(out.status.code(), Some(0), "{}", printed(&out));
    let page = tmp.path().join("results/demo/index.html");
    let html = read(&page);
    let section = |name: &str| {
        html.split("<section ")
            .find(|s| s.contains(&format!("<h2>{name} ")))
            .unwrap_or_else(|| panic!("no section {name}: {html}"))
            .to_string()
    };
    assert!(section("gen").contains("badge b-ran"));
    assert!(section("gen").contains("<caption>gen/table.csv</caption>"));
    assert!(
        section("sum").contains("badge b-skipped"),
        "{}",
        section("sum")
    );
    assert_links_resolve(&page);
}
