//! The site's static files after `cargo leptos build`: precompressed copies (`.br`, `.gz`) made
//! once at build time by `meeboter precompress`, which file names carry a content hash (and may
//! be cached for a year), and where the hash list lives so the shell links the hashed names.
//!
//! cargo-leptos (`hash-files = true`) renames `meeboter.js`, `meeboter.wasm` and `meeboter.css`
//! to `meeboter.<hash>.<ext>` (the hash: 22 characters of URL-safe base64 of the file's MD5)
//! and writes the hashes to `hash.txt` beside the server binary. The server reads that file
//! (see [`use_hash_file`]) and serves `/pkg/*` through `http::static_files`, choosing the
//! `.br` or `.gz` sibling the browser accepts.

use std::io::Write;
use std::path::{Path, PathBuf};

use leptos::prelude::LeptosOptions;

/// Files worth compressing: text and WebAssembly. Images and fonts are compressed already.
const COMPRESSIBLE: &[&str] = &["wasm", "js", "mjs", "css", "svg", "html", "json", "txt", "map", "xml"];
/// Below this size a compressed copy saves less than its headers cost.
const MIN_BYTES: u64 = 1024;
/// The length of cargo-leptos' content hash: an MD5 in unpadded URL-safe base64.
const HASH_LEN: usize = 22;

/// How hard to compress: `Best` for release builds (brotli 11, gzip 9), `Fast` for the large,
/// unoptimised debug bundle that `./dev run` and `./dev test` rebuild often (brotli 4, gzip 1:
/// about 12 s of CPU for the 38 MB debug wasm at brotli 5 and gzip 6).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Effort {
    Fast,
    Best,
}

/// One file and the sizes of its compressed copies (`None`: not written, as it would not be
/// smaller than the file).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Compressed {
    pub path: PathBuf,
    pub raw: u64,
    pub br: Option<u64>,
    pub gzip: Option<u64>,
}

/// Whether `name` (a file name, no directories) carries a cargo-leptos content hash:
/// `stem.<22 characters of A-Z a-z 0-9 - _>.ext`.
pub fn is_hashed(name: &str) -> bool {
    let mut parts = name.rsplit('.');
    let (Some(ext), Some(hash), Some(stem)) = (parts.next(), parts.next(), parts.next()) else {
        return false;
    };
    !ext.is_empty()
        && !stem.is_empty()
        && hash.len() == HASH_LEN
        && hash.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// Writes `<file>.br` and `<file>.gz` beside every compressible file under `site_root` (any
/// depth), replacing older copies, and removes copies whose file is gone. Answers what it
/// wrote, largest file first.
pub fn precompress(site_root: &Path, effort: Effort) -> std::io::Result<Vec<Compressed>> {
    let mut files = Vec::new();
    let mut stale = Vec::new();
    walk(site_root, &mut files, &mut stale)?;
    for copy in stale {
        std::fs::remove_file(copy)?;
    }
    let mut done = Vec::new();
    for path in files {
        let data = std::fs::read(&path)?;
        let raw = data.len() as u64;
        let br = write_if_smaller(&path, "br", raw, &brotli(&data, effort)?)?;
        let gzip = write_if_smaller(&path, "gz", raw, &gzip(&data, effort)?)?;
        done.push(Compressed { path, raw, br, gzip });
    }
    done.sort_by(|a, b| b.raw.cmp(&a.raw).then_with(|| a.path.cmp(&b.path)));
    Ok(done)
}

/// Collects compressible files, and `.br`/`.gz` copies whose original is gone.
fn walk(dir: &Path, files: &mut Vec<PathBuf>, stale: &mut Vec<PathBuf>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let path = entry.path();
        let kind = entry.file_type()?;
        if kind.is_dir() {
            walk(&path, files, stale)?;
            continue;
        }
        if !kind.is_file() {
            continue;
        }
        let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("");
        if ext == "br" || ext == "gz" {
            if !path.with_extension("").is_file() {
                stale.push(path);
            }
        } else if COMPRESSIBLE.contains(&ext) && entry.metadata()?.len() >= MIN_BYTES {
            files.push(path);
        }
    }
    Ok(())
}

fn brotli(data: &[u8], effort: Effort) -> std::io::Result<Vec<u8>> {
    let params = brotli::enc::BrotliEncoderParams {
        quality: if effort == Effort::Best { 11 } else { 4 },
        lgwin: 22,
        size_hint: data.len(),
        ..Default::default()
    };
    let mut out = Vec::with_capacity(data.len() / 3);
    brotli::BrotliCompress(&mut &data[..], &mut out, &params)?;
    Ok(out)
}

fn gzip(data: &[u8], effort: Effort) -> std::io::Result<Vec<u8>> {
    let level = if effort == Effort::Best { 9 } else { 1 };
    let mut enc = flate2::write::GzEncoder::new(Vec::with_capacity(data.len() / 3), flate2::Compression::new(level));
    enc.write_all(data)?;
    enc.finish()
}

/// Writes `path.<ext>` when `bytes` is smaller than the file; otherwise removes an older copy
/// (a larger "compressed" copy must never be served).
fn write_if_smaller(path: &Path, ext: &str, raw: u64, bytes: &[u8]) -> std::io::Result<Option<u64>> {
    let mut name = path.as_os_str().to_owned();
    name.push(".");
    name.push(ext);
    let copy = PathBuf::from(name);
    if (bytes.len() as u64) < raw {
        std::fs::write(&copy, bytes)?;
        Ok(Some(bytes.len() as u64))
    } else {
        match std::fs::remove_file(&copy) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e),
            _ => Ok(None),
        }
    }
}

/// Points `options` at the hash list cargo-leptos wrote beside `binary` (`hash.txt` in the same
/// directory), by absolute path, and turns hashed names on when that list exists, unless
/// `LEPTOS_HASH_FILES` says otherwise. Leptos resolves the list relative to the running
/// executable; an absolute path lets a test or benchmark binary elsewhere use the same site.
pub fn use_hash_file(options: &mut LeptosOptions, binary_dir: &Path) {
    apply_hash_file(options, binary_dir, std::env::var_os("LEPTOS_HASH_FILES").is_some());
}

/// [`use_hash_file`] with the environment's say given: `explicit` keeps `options.hash_files`.
fn apply_hash_file(options: &mut LeptosOptions, binary_dir: &Path, explicit: bool) {
    let list = binary_dir.join(&*options.hash_file);
    if !explicit {
        options.hash_files = list.is_file();
    }
    if options.hash_files {
        options.hash_file = list.to_string_lossy().into_owned().into();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashed_names_are_those_cargo_leptos_writes() {
        assert!(is_hashed("meeboter.AAAAAAAAAAAAAAAAAAAAAA.wasm"));
        assert!(is_hashed("meeboter.a-b_c0123456789ABCDEFG.js"));
        // The split build's loader, chunks and page modules (`cargo leptos build --split`).
        assert!(is_hashed("__wasm_split.IFUtSstkRaxMf0XpGbxgsw.js"));
        assert!(is_hashed("chunk_100.hS7WzFT1CFwh8OkmhGtHtA.wasm"));
        assert!(is_hashed("split___bots_route_view_8050964217768209926.4Wfl3hJKisEDg8lv-6HXBw.wasm"));
        assert!(!is_hashed("meeboter.wasm"));
        assert!(!is_hashed("meeboter.css"));
        assert!(!is_hashed("favicon.svg"));
        assert!(!is_hashed(".AAAAAAAAAAAAAAAAAAAAAA.js"), "no stem");
        assert!(!is_hashed("meeboter.AAAAAAAAAAAAAAAAAAAAA.js"), "21 characters");
        assert!(!is_hashed("meeboter.AAAAAAAAAAAAAAAAAAAA/A.js"), "not base64url");
    }

    #[test]
    fn precompress_writes_smaller_copies_and_removes_stale_ones() {
        let dir = std::env::temp_dir().join(format!("meeboter-precompress-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("pkg")).unwrap();
        let text = "function hydrate() { return 42; }\n".repeat(200);
        std::fs::write(dir.join("pkg/app.js"), &text).unwrap();
        std::fs::write(dir.join("pkg/tiny.css"), "a{}").unwrap();
        std::fs::write(dir.join("pkg/gone.js.br"), "old").unwrap();
        std::fs::write(dir.join("logo.png"), vec![7u8; 4096]).unwrap();

        let done = precompress(&dir, Effort::Fast).unwrap();

        assert_eq!(done.len(), 1, "{done:?}");
        let js = &done[0];
        assert_eq!(js.raw, text.len() as u64);
        let br = std::fs::read(dir.join("pkg/app.js.br")).unwrap();
        assert_eq!(Some(br.len() as u64), js.br);
        assert!(br.len() < text.len() / 10);
        let mut plain = Vec::new();
        brotli::BrotliDecompress(&mut &br[..], &mut plain).unwrap();
        assert_eq!(plain, text.as_bytes());
        let gz = std::fs::read(dir.join("pkg/app.js.gz")).unwrap();
        let mut plain = String::new();
        std::io::Read::read_to_string(&mut flate2::read::GzDecoder::new(&gz[..]), &mut plain).unwrap();
        assert_eq!(plain, text);
        assert!(!dir.join("pkg/tiny.css.br").exists(), "too small to be worth it");
        assert!(!dir.join("logo.png.br").exists(), "not compressible");
        assert!(!dir.join("pkg/gone.js.br").exists(), "a copy without its file is removed");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn the_hash_list_beside_the_binary_turns_hashed_names_on() {
        let dir = std::env::temp_dir().join(format!("meeboter-hashlist-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let mut options = LeptosOptions::builder().output_name("meeboter").build();
        apply_hash_file(&mut options, &dir, false);
        assert!(!options.hash_files, "no list, no hashed names");
        std::fs::write(dir.join("hash.txt"), "js: AAAAAAAAAAAAAAAAAAAAAA\n").unwrap();
        apply_hash_file(&mut options, &dir, false);
        assert!(options.hash_files);
        assert_eq!(&*options.hash_file, dir.join("hash.txt").to_str().unwrap());
        let mut told = LeptosOptions::builder().output_name("meeboter").build();
        apply_hash_file(&mut told, &dir, true);
        assert!(!told.hash_files, "LEPTOS_HASH_FILES=false wins over the list");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
