//! The `mexp` binary; everything lives in the library (`mexp::cli`).

fn main() -> std::process::ExitCode {
    restore_default_sigpipe();
    mexp::cli::main()
}

/// `mexp plan … | head` should end quietly like any Unix tool, not panic on a closed pipe: Rust
/// ignores SIGPIPE by default, so restore the default action (terminate) before printing anything.
#[cfg(unix)]
fn restore_default_sigpipe() {
    // SAFETY: setting the default disposition of SIGPIPE at start-up, before any threads exist.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
}

#[cfg(not(unix))]
fn restore_default_sigpipe() {}
