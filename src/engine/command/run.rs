//! Running a `command` stage's program: a fresh working directory (the stage's staging folder) with
//! the inputs linked read-only and the code copied from the store, the program in its own process
//! group (killed as a whole on Ctrl-C), its output streamed to the stage's log, and every declared
//! output checked before the job runner publishes anything.

use std::collections::VecDeque;
use std::fs;
use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::fs::{PermissionsExt, symlink};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use toml::Value;

use super::{
    CODE_PREFIX, INPUTS_DIR, PARAMS_FILE, Piece, code_copy, outputs, param_text, param_var,
    parse_arg,
};
use crate::engine::context::{InputPath, Interrupted, StageContext, StageResult};

/// Lines of the program's output shown when it fails.
const TAIL_LINES: usize = 20;
/// How long the program's process group gets between SIGTERM and SIGKILL.
const GRACE: Duration = Duration::from_secs(3);

/// Thread-count variables set to the stage's thread budget unless `env` sets them.
const THREAD_VARS: &[&str] = &[
    "MEXP_THREADS",
    "OMP_NUM_THREADS",
    "MKL_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "NUMEXPR_NUM_THREADS",
];

/// Runs the stage's program in its working directory and checks that it wrote every output.
pub fn run_command(ctx: &StageContext) -> StageResult {
    let work = ctx.out_dir.clone();
    let run = strings(ctx.params.get("run"));
    if run.is_empty() {
        return Err("`run` is empty".into());
    }
    link_inputs(ctx, &work)?;
    let params = match ctx.params.get("params") {
        Some(Value::Table(t)) => t.clone(),
        _ => toml::Table::new(),
    };
    let params_file = work.join(PARAMS_FILE);
    fs::write(&params_file, serde_json::to_vec_pretty(&params)?)?;
    let outs = outputs(ctx.spec, ctx.params);
    for o in outs.values().filter(|o| !o.dir) {
        if let Some(parent) = work.join(&o.file).parent() {
            fs::create_dir_all(parent)?;
        }
    }
    let lookup = |name: &str| -> StageResult<String> {
        Ok(match name.split_once('.') {
            Some(("inputs", port)) => format!("{INPUTS_DIR}/{port}"),
            Some(("outputs", o)) => outs
                .get(o)
                .map(|s| s.file.clone())
                .ok_or_else(|| format!("no output `{o}`"))?,
            Some(("params", p)) => params
                .get(p)
                .map(param_text)
                .ok_or_else(|| format!("no parameter `{p}`"))?,
            _ => match name {
                "seed" => ctx.seed.to_string(),
                "threads" => ctx.threads.to_string(),
                "params_file" => PARAMS_FILE.to_string(),
                other => return Err(format!("unknown placeholder `{{{other}}}`").into()),
            },
        })
    };
    let code = strings(ctx.params.get("code"));
    let mut argv = Vec::with_capacity(run.len());
    for arg in &run {
        // An argument that is a `code` entry names its copy in the working directory.
        if let Some(entry) = code
            .iter()
            .find(|c| c.trim_end_matches('/') == arg.trim_end_matches('/'))
        {
            let slash = if entry.ends_with('/') { "/" } else { "" };
            argv.push(format!("{}{slash}", code_copy(entry)));
            continue;
        }
        let mut s = String::new();
        for piece in parse_arg(arg)? {
            match piece {
                Piece::Text(t) => s.push_str(&t),
                Piece::Placeholder(p) => s.push_str(&lookup(&p)?),
            }
        }
        argv.push(s);
    }
    let program = if argv[0].contains('/') && Path::new(&argv[0]).is_relative() {
        work.join(&argv[0]).display().to_string()
    } else {
        argv[0].clone()
    };
    let mut cmd = Command::new(&program);
    cmd.args(&argv[1..])
        .current_dir(&work)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0);
    for var in THREAD_VARS {
        cmd.env(var, ctx.threads.to_string());
    }
    cmd.env("MEXP_SEED", ctx.seed.to_string())
        .env("MEXP_STAGE", &ctx.name)
        .env("MEXP_PARAMS_FILE", &params_file);
    for (k, v) in &params {
        cmd.env(param_var(k), param_text(v));
    }
    if let Some(Value::Table(env)) = ctx.params.get("env") {
        for (k, v) in env {
            cmd.env(k, param_text(v));
        }
    }
    ctx.log(format!("$ {}", shell_words(&argv)));
    let mut child = cmd
        .spawn()
        .map_err(|e| format!("cannot start `{}`: {e}", argv[0]))?;
    let tail = Arc::new(Mutex::new(VecDeque::new()));
    let pumps: Vec<_> = [
        child
            .stdout
            .take()
            .map(|r| Box::new(r) as Box<dyn Read + Send>),
        child
            .stderr
            .take()
            .map(|r| Box::new(r) as Box<dyn Read + Send>),
    ]
    .into_iter()
    .flatten()
    .map(|reader| pump(reader, ctx, &tail))
    .collect::<StageResult<_>>()?;
    let status = wait(&mut child, ctx);
    // Whatever the program left running in its group ends with it (and releases the pipes).
    signal_group(&child, SIGKILL);
    for p in pumps {
        let _ = p.join();
    }
    let status = status?;
    if !status.success() {
        let lines: Vec<String> = tail
            .lock()
            .map(|t| t.iter().cloned().collect())
            .unwrap_or_default();
        return Err(format!(
            "`{}` exited with {status}; last lines of its output:\n{}",
            argv[0],
            lines
                .iter()
                .map(|l| format!("    {l}"))
                .collect::<Vec<_>>()
                .join("\n")
        )
        .into());
    }
    let missing: Vec<String> = outs
        .iter()
        .filter(|(_, o)| {
            let p = work.join(&o.file);
            if o.dir { !p.is_dir() } else { !p.is_file() }
        })
        .map(|(name, o)| format!("`{name}` ({}{})", o.file, if o.dir { "/" } else { "" }))
        .collect();
    if !missing.is_empty() {
        return Err(format!(
            "`{}` exited successfully but did not write its declared output {}",
            argv[0],
            missing.join(", ")
        )
        .into());
    }
    for o in outs.values() {
        resolve_links(&work.join(&o.file))?;
    }
    Ok(())
}

fn strings(v: Option<&Value>) -> Vec<String> {
    match v {
        Some(Value::Array(a)) => a
            .iter()
            .filter_map(Value::as_str)
            .map(String::from)
            .collect(),
        _ => Vec::new(),
    }
}

/// Links inputs read-only under `inputs/<port>` and copies code files (from the store, as
/// planned) under `code/`, read-only and executable.
fn link_inputs(ctx: &StageContext, work: &Path) -> StageResult {
    let inputs_dir = work.join(INPUTS_DIR);
    fs::create_dir_all(&inputs_dir)?;
    for (port, input) in &ctx.inputs {
        if let Some(rel) = port.strip_prefix(CODE_PREFIX) {
            let InputPath::File(object) = input else {
                return Err(format!("code file {rel} is not a file in the store").into());
            };
            let dest = work.join(code_copy(rel));
            if let Some(parent) = dest.parent() {
                fs::create_dir_all(parent)?;
            }
            fs::copy(object, &dest)?;
            fs::set_permissions(&dest, fs::Permissions::from_mode(0o555))?;
            continue;
        }
        // Link targets must be absolute: the cache root may be given relative to the folder mexp
        // runs in, and a relative target resolves from the link's own folder.
        match input {
            InputPath::File(object) => {
                symlink(std::path::absolute(object)?, inputs_dir.join(port))?
            }
            InputPath::Tree(files) => {
                for (rel, object) in files {
                    let dest = inputs_dir.join(port).join(rel);
                    if let Some(parent) = dest.parent() {
                        fs::create_dir_all(parent)?;
                    }
                    symlink(std::path::absolute(object)?, dest)?;
                }
            }
        }
    }
    Ok(())
}

/// Streams one of the program's pipes into the stage's log, keeping the last lines.
fn pump(
    reader: Box<dyn Read + Send>,
    ctx: &StageContext,
    tail: &Arc<Mutex<VecDeque<String>>>,
) -> StageResult<std::thread::JoinHandle<()>> {
    let log = ctx
        .log
        .lock()
        .map_err(|_| "stage log poisoned")?
        .try_clone()?;
    let log = Arc::new(Mutex::new(log));
    let tail = Arc::clone(tail);
    Ok(std::thread::spawn(move || {
        let mut reader = BufReader::new(reader);
        let mut line = Vec::new();
        while matches!(reader.read_until(b'\n', &mut line), Ok(n) if n > 0) {
            if let Ok(mut f) = log.lock() {
                let _ = f.write_all(&line);
            }
            let text = String::from_utf8_lossy(&line).trim_end().to_string();
            if let Ok(mut t) = tail.lock() {
                t.push_back(text);
                while t.len() > TAIL_LINES {
                    t.pop_front();
                }
            }
            line.clear();
        }
    }))
}

/// Waits for the program; on Ctrl-C terminates its whole process group and reports
/// [`Interrupted`].
fn wait(child: &mut Child, ctx: &StageContext) -> StageResult<std::process::ExitStatus> {
    loop {
        if let Some(status) = child.try_wait()? {
            return Ok(status);
        }
        if ctx.cancelled() {
            ctx.log("interrupted: terminating the program's process group");
            signal_group(child, SIGTERM);
            let t0 = Instant::now();
            while t0.elapsed() < GRACE {
                if child.try_wait()?.is_some() {
                    break;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            signal_group(child, SIGKILL);
            let _ = child.wait();
            return Err(Box::new(Interrupted));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

const SIGTERM: i32 = 15;
const SIGKILL: i32 = 9;

/// Sends `signal` to the child's process group (the child leads it: `process_group(0)`).
fn signal_group(child: &Child, signal: i32) {
    unsafe extern "C" {
        fn kill(pid: i32, sig: i32) -> i32;
    }
    let Ok(pid) = i32::try_from(child.id()) else {
        return;
    };
    if pid > 0 {
        // SAFETY: kill(2) with a negative pid signals that process group; no memory is shared.
        unsafe {
            kill(-pid, signal);
        }
    }
}

/// Replaces symbolic links in an output (a program may link an input as its output) by copies of
/// what they point to, so only regular files enter the store.
fn resolve_links(path: &Path) -> StageResult {
    let meta = fs::symlink_metadata(path)?;
    if meta.file_type().is_symlink() {
        let target: PathBuf = fs::canonicalize(path)?;
        if target.is_dir() {
            return Err(format!(
                "output {} is a link to a folder; write a real folder",
                path.display()
            )
            .into());
        }
        let tmp = path.with_extension("mexp-copy");
        fs::copy(&target, &tmp)?;
        fs::rename(&tmp, path)?;
    } else if meta.is_dir() {
        for entry in fs::read_dir(path)? {
            resolve_links(&entry?.path())?;
        }
    }
    Ok(())
}

/// The argument vector as a shell would show it (for the log).
fn shell_words(argv: &[String]) -> String {
    argv.iter()
        .map(|a| {
            if !a.is_empty()
                && a.chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-_./=:,+".contains(c))
            {
                a.clone()
            } else {
                format!("'{}'", a.replace('\'', "'\\''"))
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    #[test]
    fn shell_words_quote_what_a_shell_would_split() {
        let argv = vec!["python3".to_string(), "a b".into(), "it's".into()];
        assert_eq!(super::shell_words(&argv), "python3 'a b' 'it'\\''s'");
    }

    #[test]
    fn a_linked_output_becomes_a_regular_copy() {
        let tmp = tempfile::tempdir().expect("tmp");
        let target = tmp.path().join("t");
        std::fs::write(&target, b"x").expect("write");
        let link = tmp.path().join("out");
        std::os::unix::fs::symlink(&target, &link).expect("link");
        super::resolve_links(&link).expect("resolve");
        let meta = std::fs::symlink_metadata(&link).expect("meta");
        assert!(meta.is_file());
        assert_eq!(std::fs::read(&link).expect("read"), b"x");
    }
}
