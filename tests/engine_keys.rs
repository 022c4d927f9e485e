//! Golden keys: the canonical encoding and the key of a fixed manifest are pinned, so an accidental
//! change of the key format (which would silently invalidate every user's cache) fails this test.

mod common;

use common::*;

#[test]
fn golden_key_of_a_fixed_manifest() {
    let tmp = tempfile::tempdir().expect("tmp");
    let m = write_manifest(tmp.path(), "chain", CHAIN);
    let reg = default_registry();
    let s = session(&reg, &m, &["a.tag=\"golden\""]);
    let a = &s.plan.jobs[s.plan.index[&(0, "a".to_string())]];
    let manifest = a.key_manifest(Default::default());
    insta::assert_snapshot!(manifest.canonical());
    insta::assert_snapshot!(manifest.key());
    // The same manifest run from another directory gives the same key: no paths enter it.
    let tmp2 = tempfile::tempdir().expect("tmp");
    let m2 = write_manifest(tmp2.path(), "renamed", CHAIN);
    let s2 = session(&reg, &m2, &["a.tag=\"golden\""]);
    assert_eq!(
        s2.plan.jobs[s2.plan.index[&(0, "a".to_string())]]
            .key_manifest(Default::default())
            .key(),
        manifest.key()
    );
}
