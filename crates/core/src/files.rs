//! Writing a file so that a reader, or a crash, sees the old content or the
//! new, never a mix: the one way the cache, the settings, the token and the
//! autostart entry are written.

use std::io::Write;
use std::path::Path;

/// Write `bytes` to `path` atomically: a temp file beside it (`tempfile`,
/// removed if anything fails), fsync, rename over `path`, fsync the folder
/// so the rename itself survives a crash. `mode` is the new file's Unix
/// permissions (`0o600`: only the user). The folder must exist.
pub fn write_atomically(path: &Path, bytes: &[u8], mode: u32) -> std::io::Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let mut b = tempfile::Builder::new();
    b.prefix(".pulseboard-").suffix(".tmp");
    #[cfg(unix)]
    let perms = std::os::unix::fs::PermissionsExt::from_mode(mode);
    #[cfg(unix)]
    b.permissions(perms);
    #[cfg(not(unix))]
    let _ = mode;
    let mut tmp = b.tempfile_in(dir)?;
    tmp.write_all(bytes)?;
    tmp.as_file().sync_all()?;
    tmp.persist(path).map_err(|e| e.error)?;
    #[cfg(unix)]
    std::fs::File::open(dir)?.sync_all()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replaces_the_file_with_a_new_one_of_the_mode_asked_and_leaves_no_temp_file() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("f.json");
        std::fs::write(&p, b"old").unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o644)).unwrap();
        }
        write_atomically(&p, b"new", 0o600).unwrap();
        assert_eq!(std::fs::read(&p).unwrap(), b"new");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&p).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let names: Vec<_> = std::fs::read_dir(d.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, vec![std::ffi::OsString::from("f.json")]);
        // A missing folder is an error, not a panic.
        assert!(write_atomically(&d.path().join("no/f.json"), b"x", 0o600).is_err());
    }
}
