//! Shell completions (bash, zsh, fish) and man pages for Pulseboard's
//! command-line programs, generated from their clap definitions so they can
//! never disagree with `--help`.
//!
//! Each program answers a hidden first argument `--generate-docs DIR`
//! (see [`run_if_asked`]); `scripts/package.sh` runs it once per binary and
//! installs the result under `/usr/share`. The tree written mirrors
//! `/usr/share` on Debian:
//!
//! ```text
//! DIR/bash-completion/completions/NAME
//! DIR/zsh/vendor-completions/_NAME
//! DIR/fish/vendor_completions.d/NAME.fish
//! DIR/man/man1/NAME.1   (and NAME-SUBCOMMAND.1 for each subcommand)
//! ```

use std::ffi::OsString;
use std::fs::{self, File};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::Command;
use clap_complete::Shell;

/// The hidden argument that asks a program for its docs.
pub const FLAG: &str = "--generate-docs";

/// Write completions and man pages for `cmd` under `dir`.
/// Returns the files written.
pub fn write_all(cmd: Command, dir: &Path) -> io::Result<Vec<PathBuf>> {
    // Man pages from the command as written (clap_mangen leaves out the
    // `help` subcommand that building adds).
    let for_man = cmd.clone();
    let mut cmd = cmd;
    cmd.build();
    let name = cmd.get_name().to_string();
    let mut written = Vec::new();
    for (shell, sub, file) in [
        (Shell::Bash, "bash-completion/completions", name.clone()),
        (Shell::Zsh, "zsh/vendor-completions", format!("_{name}")),
        (
            Shell::Fish,
            "fish/vendor_completions.d",
            format!("{name}.fish"),
        ),
    ] {
        let d = dir.join(sub);
        fs::create_dir_all(&d)?;
        let path = d.join(file);
        let mut f = File::create(&path)?;
        clap_complete::generate(shell, &mut cmd, &name, &mut f);
        f.flush()?;
        written.push(path);
    }
    let man = dir.join("man/man1");
    fs::create_dir_all(&man)?;
    clap_mangen::generate_to(for_man, &man)?;
    for e in fs::read_dir(&man)? {
        written.push(e?.path());
    }
    Ok(written)
}

/// If the program's arguments are `--generate-docs DIR`, write its docs
/// there and return the exit code to end with; otherwise `None` and the
/// program goes on as usual.
pub fn run_if_asked(cmd: impl FnOnce() -> Command) -> Option<ExitCode> {
    run_if_asked_from(std::env::args_os(), cmd)
}

/// [`run_if_asked`] over given arguments (the first is the program name).
pub fn run_if_asked_from(
    args: impl IntoIterator<Item = OsString>,
    cmd: impl FnOnce() -> Command,
) -> Option<ExitCode> {
    let mut args = args.into_iter().skip(1);
    if args.next()? != FLAG {
        return None;
    }
    let (Some(dir), None) = (args.next(), args.next()) else {
        eprintln!("usage: {FLAG} DIR");
        return Some(ExitCode::from(2));
    };
    match write_all(cmd(), Path::new(&dir)) {
        Ok(files) => {
            for f in files {
                println!("{}", f.display());
            }
            Some(ExitCode::SUCCESS)
        }
        Err(e) => {
            eprintln!(
                "error: cannot write docs to {}: {e}",
                Path::new(&dir).display()
            );
            Some(ExitCode::FAILURE)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::{Arg, ArgAction};

    fn demo() -> Command {
        Command::new("demo")
            .about("A demo")
            .arg(Arg::new("listen").long("listen").help("Where to listen"))
            .subcommand(
                Command::new("send").arg(Arg::new("loud").long("loud").action(ArgAction::SetTrue)),
            )
    }

    fn args(a: &[&str]) -> Vec<OsString> {
        a.iter().map(OsString::from).collect()
    }

    #[test]
    fn writes_completions_for_three_shells_and_a_man_page_per_command() {
        let dir = tempfile::tempdir().unwrap();
        let code = run_if_asked_from(args(&["demo", FLAG, dir.path().to_str().unwrap()]), demo);
        assert_eq!(code, Some(ExitCode::SUCCESS));
        let read = |p: &str| fs::read_to_string(dir.path().join(p)).unwrap();
        assert!(read("bash-completion/completions/demo").contains("--listen"));
        assert!(read("zsh/vendor-completions/_demo").contains("--listen"));
        assert!(read("fish/vendor_completions.d/demo.fish").contains("listen"));
        let man = read("man/man1/demo.1");
        assert!(man.starts_with(".ie") || man.contains(".TH demo"), "{man}");
        assert!(man.contains("Where to listen"));
        assert!(read("man/man1/demo-send.1").contains("loud"));
        assert!(!dir.path().join("man/man1/demo-help.1").exists());
    }

    #[test]
    fn other_arguments_run_the_program() {
        let called = std::cell::Cell::new(false);
        let run = |a: &[&str]| {
            run_if_asked_from(args(a), || {
                called.set(true);
                demo()
            })
        };
        assert_eq!(run(&["demo"]), None);
        assert_eq!(run(&["demo", "--listen", "x"]), None);
        assert_eq!(run(&["demo", "send", FLAG]), None);
        assert!(!called.get());
        assert_eq!(run(&["demo", FLAG]), Some(ExitCode::from(2)));
    }
}
