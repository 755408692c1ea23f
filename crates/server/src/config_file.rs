//! `--config FILE`: the server's settings from a TOML file.
//!
//! The file holds the same settings as the command line, one key per long
//! flag (`listen = "0.0.0.0:4000"`, `kpi-interval-ms = 5000`, `no-simulator =
//! true`; `_` works for `-` too). Precedence is **flag > environment > file >
//! built-in default**: a key only fills in a setting that neither the command
//! line nor its `PULSEBOARD_*` variable gave. That is done without touching
//! the process environment: for each such key, `--key=value` is put in front
//! of the real arguments before clap parses them, so every flag another part
//! of the server adds is settable from the file with no extra code, and clap
//! checks file values exactly like typed ones.
//!
//! An unknown key, a table, or a value clap refuses is a clear error naming
//! the file and the key; nothing is silently ignored.
//!
//! There is no implicit default path: the packaged systemd unit passes
//! `--config /etc/pulseboard/server.toml`, so running `pulseboard-server` by
//! hand never picks up the service's settings (or its database) by surprise.
//! `PULSEBOARD_CONFIG` names the file too.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use clap::error::ErrorKind;
use clap::parser::ValueSource;
use clap::{Arg, ArgAction, Command, CommandFactory, Parser};

/// Id (and long name) of the `--config` argument.
pub const CONFIG: &str = "config";
/// Environment variable naming the config file.
pub const CONFIG_ENV: &str = "PULSEBOARD_CONFIG";

/// The program's command with `--config` added (what `--help`, the
/// completions and the man page show).
pub fn command<T: CommandFactory>() -> Command {
    T::command().arg(
        Arg::new(CONFIG)
            .long(CONFIG)
            .env(CONFIG_ENV)
            .value_name("FILE")
            .value_parser(clap::value_parser!(PathBuf))
            .help(
                "TOML file of settings, one key per long flag (listen = \"0.0.0.0:4000\"); \
                 flags and environment variables override it",
            ),
    )
}

/// Parse the process's arguments with the config file applied; print the
/// error and exit (status 2) like clap on bad input. Answers the hidden
/// `--generate-docs DIR` (completions and man pages) and exits.
pub fn parse<T: Parser>() -> T {
    if let Some(code) = pulseboard_docgen::run_if_asked(command::<T>) {
        std::process::exit(if code == std::process::ExitCode::SUCCESS {
            0
        } else {
            1
        });
    }
    match try_parse_from(std::env::args_os()) {
        Ok(t) => t,
        Err(e) => e.exit(),
    }
}

/// [`parse`] over given arguments (the first is the program name), errors
/// returned.
pub fn try_parse_from<T: Parser>(
    args: impl IntoIterator<Item = impl Into<OsString>>,
) -> Result<T, clap::Error> {
    let args: Vec<OsString> = args.into_iter().map(Into::into).collect();
    let mut cmd = command::<T>();
    // A first, forgiving pass: where is the file, and which settings did the
    // command line or the environment give already? Real errors (and --help)
    // are reported by the second pass.
    let first = cmd
        .clone()
        .ignore_errors(true)
        .try_get_matches_from(args.clone());
    let Ok(first) = first else {
        return T::from_arg_matches(&cmd.try_get_matches_from(args)?);
    };
    let Some(path) = first.get_one::<PathBuf>(CONFIG).cloned() else {
        return T::from_arg_matches(&cmd.try_get_matches_from(args)?);
    };
    let extra = file_args(&mut cmd, &path, |id| {
        matches!(
            first.value_source(id),
            Some(ValueSource::CommandLine | ValueSource::EnvVariable)
        )
    })?;
    let mut all = Vec::with_capacity(args.len() + extra.len());
    all.extend(args.first().cloned());
    all.extend(extra);
    all.extend(args.into_iter().skip(1));
    let matches = cmd.try_get_matches_from(all).map_err(|e| {
        // Say where a refused value came from.
        let note = format!("(settings from the config file {})", path.display());
        let msg = e.render().to_string();
        clap::Error::raw(e.kind(), format!("{}\n{note}\n", msg.trim_end()))
            .with_cmd(&command::<T>())
    })?;
    T::from_arg_matches(&matches)
}

/// The `--key=value` arguments the file at `path` stands for, skipping the
/// settings `given(id)` says were given already.
fn file_args(
    cmd: &mut Command,
    path: &Path,
    given: impl Fn(&str) -> bool,
) -> Result<Vec<OsString>, clap::Error> {
    let fail = |cmd: &mut Command, msg: String| cmd.error(ErrorKind::InvalidValue, msg);
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) => {
            return Err(fail(
                cmd,
                format!("cannot read the config file {}: {e}", path.display()),
            ))
        }
    };
    let table: toml::Table = match text.parse() {
        Ok(t) => t,
        Err(e) => {
            return Err(fail(
                cmd,
                format!("the config file {} is not valid TOML: {e}", path.display()),
            ))
        }
    };
    let settable: Vec<Arg> = cmd
        .get_arguments()
        .filter(|a| {
            a.get_long().is_some()
                && !a.is_positional()
                && a.get_id() != CONFIG
                && !matches!(a.get_action(), ArgAction::Help | ArgAction::Version)
        })
        .cloned()
        .collect();
    let mut out = Vec::new();
    for (key, value) in &table {
        let long = key.replace('_', "-");
        let Some(arg) = settable
            .iter()
            .find(|a| a.get_long() == Some(long.as_str()))
        else {
            let mut known: Vec<&str> = settable.iter().filter_map(|a| a.get_long()).collect();
            known.sort_unstable();
            return Err(fail(
                cmd,
                format!(
                    "unknown key `{key}` in the config file {} (known keys: {})",
                    path.display(),
                    known.join(", ")
                ),
            ));
        };
        if given(arg.get_id().as_str()) {
            continue;
        }
        let flag = format!("--{long}");
        if !arg.get_action().takes_values() {
            match value {
                toml::Value::Boolean(true) => out.push(flag.into()),
                toml::Value::Boolean(false) => {}
                _ => {
                    return Err(fail(
                        cmd,
                        format!(
                            "`{key}` in the config file {} must be true or false",
                            path.display()
                        ),
                    ))
                }
            }
            continue;
        }
        let values = match value {
            toml::Value::Array(items) => items.iter().collect(),
            v => vec![v],
        };
        for v in values {
            let s = match v {
                toml::Value::String(s) => s.clone(),
                toml::Value::Integer(i) => i.to_string(),
                toml::Value::Float(f) => f.to_string(),
                toml::Value::Boolean(b) => b.to_string(),
                _ => {
                    return Err(fail(
                        cmd,
                        format!(
                            "`{key}` in the config file {} must be a string, number or boolean",
                            path.display()
                        ),
                    ))
                }
            };
            out.push(format!("{flag}={s}").into());
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    /// Shaped like the server's command line.
    #[derive(Debug, Parser)]
    #[command(name = "srv")]
    struct Cli {
        #[arg(long, default_value = "127.0.0.1:4000")]
        listen: String,
        #[arg(long, env = "PULSEBOARD_CONFIG_TEST_TOKEN")]
        token: Option<String>,
        #[arg(long = "db")]
        db: Option<PathBuf>,
        #[arg(long)]
        no_simulator: bool,
        #[arg(long, default_value_t = 5000, value_parser = clap::value_parser!(u64).range(50..))]
        kpi_interval_ms: u64,
    }

    fn file(text: &str) -> tempfile::NamedTempFile {
        let mut f = tempfile::NamedTempFile::new().unwrap();
        f.write_all(text.as_bytes()).unwrap();
        f
    }

    fn parse(args: &[&str]) -> Result<Cli, String> {
        let mut v = vec!["srv"];
        v.extend_from_slice(args);
        try_parse_from::<Cli>(v).map_err(|e| e.render().to_string())
    }

    #[test]
    fn the_file_sets_what_flags_do_not() {
        let f = file(
            "listen = \"0.0.0.0:4100\"\ndb = \"/var/lib/pulseboard/server.db\"\n\
             no-simulator = true\nkpi_interval_ms = 250\n",
        );
        let cli = parse(&["--config", f.path().to_str().unwrap()]).unwrap();
        assert_eq!(cli.listen, "0.0.0.0:4100");
        assert_eq!(
            cli.db.as_deref(),
            Some(Path::new("/var/lib/pulseboard/server.db"))
        );
        assert!(cli.no_simulator);
        assert_eq!(cli.kpi_interval_ms, 250);
    }

    #[test]
    fn flags_win_over_the_file_and_defaults_stay_without_one() {
        let f = file("listen = \"0.0.0.0:4100\"\nkpi-interval-ms = 250\nno-simulator = false\n");
        let p = f.path().to_str().unwrap();
        let cli = parse(&["--listen", "127.0.0.1:9", "--config", p]).unwrap();
        assert_eq!(cli.listen, "127.0.0.1:9");
        assert_eq!(cli.kpi_interval_ms, 250);
        assert!(!cli.no_simulator);
        let cli = parse(&[&format!("--config={p}"), "--kpi-interval-ms=60"]).unwrap();
        assert_eq!(cli.listen, "0.0.0.0:4100");
        assert_eq!(cli.kpi_interval_ms, 60);
        let cli = parse(&[]).unwrap();
        assert_eq!(cli.listen, "127.0.0.1:4000");
        assert_eq!(cli.kpi_interval_ms, 5000);
    }

    #[test]
    fn the_environment_wins_over_the_file() {
        let f = file("token = \"from-file\"\n");
        let p = f.path().to_str().unwrap();
        assert_eq!(
            parse(&["--config", p]).unwrap().token.as_deref(),
            Some("from-file")
        );
        // Only this test reads this variable.
        std::env::set_var("PULSEBOARD_CONFIG_TEST_TOKEN", "from-env");
        let cli = parse(&["--config", p]);
        std::env::remove_var("PULSEBOARD_CONFIG_TEST_TOKEN");
        assert_eq!(cli.unwrap().token.as_deref(), Some("from-env"));
    }

    #[test]
    fn bad_files_are_clear_errors() {
        let unknown = file("listen = \"0.0.0.0:1\"\nlisten-on = \"x\"\n");
        let e = parse(&["--config", unknown.path().to_str().unwrap()]).unwrap_err();
        assert!(e.contains("unknown key `listen-on`"), "{e}");
        assert!(e.contains("known keys: db, kpi-interval-ms, listen"), "{e}");

        let help = file("help = true\n");
        let e = parse(&["--config", help.path().to_str().unwrap()]).unwrap_err();
        assert!(e.contains("unknown key `help`"), "{e}");

        let bad_value = file("kpi-interval-ms = 10\n");
        let e = parse(&["--config", bad_value.path().to_str().unwrap()]).unwrap_err();
        assert!(e.contains("kpi-interval-ms"), "{e}");
        assert!(e.contains("config file"), "{e}");

        let not_bool = file("no-simulator = \"yes\"\n");
        let e = parse(&["--config", not_bool.path().to_str().unwrap()]).unwrap_err();
        assert!(e.contains("must be true or false"), "{e}");

        let table = file("[listen]\nport = 1\n");
        let e = parse(&["--config", table.path().to_str().unwrap()]).unwrap_err();
        assert!(e.contains("must be a string, number or boolean"), "{e}");

        let broken = file("listen = \n");
        let e = parse(&["--config", broken.path().to_str().unwrap()]).unwrap_err();
        assert!(e.contains("not valid TOML"), "{e}");

        let e = parse(&["--config", "/nonexistent/pulseboard.toml"]).unwrap_err();
        assert!(
            e.contains("cannot read the config file /nonexistent/pulseboard.toml"),
            "{e}"
        );
    }

    #[test]
    fn config_shows_in_help() {
        let help = command::<Cli>().render_help().to_string();
        assert!(help.contains("--config <FILE>"), "{help}");
        assert!(help.contains("PULSEBOARD_CONFIG"), "{help}");
    }
}
