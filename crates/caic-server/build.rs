//! Embeds the built web UI (`ui/dist`, with the `.gz`/`.br` files its build writes) into
//! the binary: writes `$OUT_DIR/ui_assets.rs`, a table of `include_bytes!`. When the UI
//! is not built the table is empty and the server shows a "UI not built" page.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return;
    };
    let mut entries: Vec<_> = rd.flatten().map(|e| e.path()).collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            walk(&p, out);
        } else {
            out.push(p);
        }
    }
}

fn main() {
    let manifest = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").unwrap());
    let dist = manifest.join("../../ui/dist");
    println!("cargo:rerun-if-changed={}", dist.display());
    println!("cargo:rerun-if-changed=build.rs");
    let mut files = Vec::new();
    walk(&dist, &mut files);
    let mut code = String::from(
        "/// Every file of `ui/dist`, sorted by path.\npub static ASSETS: &[Asset] = &[\n",
    );
    for f in &files {
        let name = f.to_string_lossy();
        if name.ends_with(".gz") || name.ends_with(".br") {
            continue;
        }
        let rel = f
            .strip_prefix(&dist)
            .unwrap()
            .to_string_lossy()
            .replace('\\', "/");
        let variant = |ext: &str| {
            let p = PathBuf::from(format!("{name}.{ext}"));
            if p.exists() {
                format!("Some(include_bytes!({:?}))", p.canonicalize().unwrap())
            } else {
                "None".to_string()
            }
        };
        let _ = writeln!(
            code,
            "    Asset {{ path: {rel:?}, body: include_bytes!({:?}), gzip: {}, br: {} }},",
            f.canonicalize().unwrap(),
            variant("gz"),
            variant("br"),
        );
    }
    code.push_str("];\n");
    let out = PathBuf::from(std::env::var("OUT_DIR").unwrap()).join("ui_assets.rs");
    std::fs::write(out, code).unwrap();
}
