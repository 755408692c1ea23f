//! The browser preview's demo data (`preview/seed.json`) is generated from the
//! seed table. This test fails when the checked-in file is stale;
//! `PULSEBOARD_WRITE_PREVIEW=1 cargo test -p pulseboard-protocol --test preview_seed`
//! writes it.

use std::path::PathBuf;

#[test]
fn the_preview_seed_json_is_generated_from_the_seed_table() {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../preview/seed.json");
    let want = pulseboard_protocol::seed::preview_json();
    if std::env::var_os("PULSEBOARD_WRITE_PREVIEW").is_some() {
        std::fs::write(&path, &want).expect("write preview/seed.json");
    }
    let have = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        have == want,
        "{} is stale: regenerate it with \
         `PULSEBOARD_WRITE_PREVIEW=1 cargo test -p pulseboard-protocol --test preview_seed`",
        path.display()
    );
}
