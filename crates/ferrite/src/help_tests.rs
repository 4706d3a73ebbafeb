//! Every command's `--help` ends with examples (`after_help`): this checks
//! that each command has some, that each example names its command and that
//! each one parses.

use crate::Cli;
use clap::{Command, CommandFactory, Parser};

/// At most this many examples per command.
const MAX_EXAMPLES: usize = 3;

/// A visible command and its path of names below `ferrite`.
struct Visited<'a> {
    path: Vec<String>,
    cmd: &'a Command,
}

/// The visible subcommands of `cmd`: not hidden, not clap's `help`.
fn visible(cmd: &Command) -> impl Iterator<Item = &Command> {
    cmd.get_subcommands()
        .filter(|s| !s.is_hide_set() && s.get_name() != "help")
}

/// Collects every visible command below `cmd`, depth first.
fn walk<'a>(cmd: &'a Command, path: &mut Vec<String>, out: &mut Vec<Visited<'a>>) {
    for sub in visible(cmd) {
        path.push(sub.get_name().to_string());
        out.push(Visited {
            path: path.clone(),
            cmd: sub,
        });
        walk(sub, path, out);
        path.pop();
    }
}

/// The example lines of an after-help text: the lines after `Examples:`
/// indented by two spaces, without the indent. `None` without `Examples:`.
fn examples(text: &str) -> Option<Vec<&str>> {
    let mut lines = text.lines();
    lines.find(|l| *l == "Examples:")?;
    Some(
        lines
            .take_while(|l| l.starts_with("  "))
            .map(|l| &l[2..])
            .collect(),
    )
}

/// The global options of `ferrite`: long name and whether it takes a value.
fn global_options(cli: &Command) -> Vec<(String, bool)> {
    cli.get_arguments()
        .filter(|a| a.is_global_set())
        .filter_map(|a| {
            let long = a.get_long()?;
            Some((format!("--{long}"), a.get_action().takes_values()))
        })
        .collect()
}

/// The words of an example after `ferrite` and any global options before
/// the command name (`--api X`, `--api=X`, `--offline`, …).
fn command_words<'a>(words: &'a [&'a str], globals: &[(String, bool)]) -> &'a [&'a str] {
    let mut rest = &words[1..];
    while let Some(first) = rest.first() {
        let (name, has_value) = match first.split_once('=') {
            Some((name, _)) => (name, true),
            None => (*first, false),
        };
        match globals.iter().find(|(g, _)| g == name) {
            Some((_, true)) if !has_value => rest = rest.get(2..).unwrap_or(&[]),
            Some(_) => rest = &rest[1..],
            None => break,
        }
    }
    rest
}

/// Checks the examples of one command; returns what is wrong with them.
fn check_examples(path: &[String], text: &str, globals: &[(String, bool)]) -> Vec<String> {
    let name = path.join(" ");
    let Some(lines) = examples(text) else {
        return vec![format!(
            "`ferrite {name}`: after_help has no \"Examples:\" line"
        )];
    };
    let mut problems = Vec::new();
    if lines.is_empty() || lines.len() > MAX_EXAMPLES {
        problems.push(format!(
            "`ferrite {name}`: {} examples, want 1 to {MAX_EXAMPLES}",
            lines.len()
        ));
    }
    for line in lines {
        if !line.starts_with("ferrite ") {
            problems.push(format!(
                "`ferrite {name}`: example {line:?} does not start with \"ferrite \""
            ));
            continue;
        }
        // Examples are split on whitespace, not as a shell would: keep them
        // free of quoting, redirections and the like.
        if let Some(c) = line.chars().find(|c| "'\"\\`$<>|;&#*?".contains(*c)) {
            problems.push(format!(
                "`ferrite {name}`: example {line:?} has shell syntax ({c:?}); keep it plain"
            ));
            continue;
        }
        let words: Vec<&str> = line.split_whitespace().collect();
        let named = command_words(&words, globals);
        if named.len() < path.len() || named.iter().zip(path).any(|(w, p)| *w != p.as_str()) {
            problems.push(format!(
                "`ferrite {name}`: example {line:?} does not run `ferrite {name}`"
            ));
        }
        if let Err(e) = Cli::try_parse_from(&words) {
            problems.push(format!(
                "`ferrite {name}`: example {line:?} does not parse: {}",
                e.render()
            ));
        }
    }
    problems
}

#[test]
fn every_command_has_examples_that_parse() {
    let cli = Cli::command();
    let globals = global_options(&cli);
    let mut commands = Vec::new();
    walk(&cli, &mut Vec::new(), &mut commands);
    let mut checked = 0;
    let mut problems = Vec::new();
    for Visited { path, cmd } in &commands {
        let leaf = visible(cmd).next().is_none();
        match cmd.get_after_help() {
            Some(text) => {
                problems.extend(check_examples(path, &text.to_string(), &globals));
                checked += 1;
            }
            None if leaf => problems.push(format!(
                "`ferrite {}`: no examples (#[command(after_help = \"Examples:\\n  ferrite …\")])",
                path.join(" ")
            )),
            None => {}
        }
    }
    assert!(
        problems.is_empty(),
        "{} problem(s) in command examples:\n{}",
        problems.len(),
        problems.join("\n")
    );
    // The walk found the commands at all (a broken walk would pass vacuously).
    assert!(checked > 40, "only {checked} commands with examples found");
}

#[test]
fn example_checks_catch_mistakes() {
    let cli = Cli::command();
    let globals = global_options(&cli);
    let path = ["pin".to_string(), "add".to_string()];
    let ok = "Examples:\n  ferrite pin add QmT78zSuBmuS4z925WZfrqQ1qHaJ56DQaTfyMUF7F8ff5o\n  \
              ferrite --api /ip4/127.0.0.1/tcp/5001 --offline pin add --name=x QmT78zSuBmuS4z925WZfrqQ1qHaJ56DQaTfyMUF7F8ff5o";
    assert_eq!(check_examples(&path, ok, &globals), Vec::<String>::new());
    for bad in [
        "Usage notes only",
        "Examples:\n",
        "Examples:\n  ferrite pin rm QmT78zSuBmuS4z925WZfrqQ1qHaJ56DQaTfyMUF7F8ff5o",
        "Examples:\n  ferrite pin add --no-such-flag QmT78zSuBmuS4z925WZfrqQ1qHaJ56DQaTfyMUF7F8ff5o",
        "Examples:\n  ferrite pin add",
        "Examples:\n  ipfs pin add QmT78zSuBmuS4z925WZfrqQ1qHaJ56DQaTfyMUF7F8ff5o",
        "Examples:\n  ferrite pin add --name 'my pin' QmT78zSuBmuS4z925WZfrqQ1qHaJ56DQaTfyMUF7F8ff5o",
    ] {
        assert!(
            !check_examples(&path, bad, &globals).is_empty(),
            "accepted {bad:?}"
        );
    }
}
