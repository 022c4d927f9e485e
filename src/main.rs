//! The `mexp` binary; everything lives in the library (`mexp::cli`).

fn main() -> std::process::ExitCode {
    restore_default_sigpipe();
    mexp::cli::main()
}

/// `mexp plan … | head` should end quietly like any Unix tool, not panic on a closed pipe: Rust
/// ignores SIGPIPE by default, so restore the default action (terminate) before printing anything.
#[cfg(unix)]
fn restore_default_sigpipe() {
    const SIGPIPE: i32 = 13;
    const SIG_DFL: usize = 0;
    unsafe extern "C" {
        fn signal(signum: i32, handler: usize) -> usize;
    }
    // SAFETY: setting the default disposition of SIGPIPE at start-up, before any threads exist.
    unsafe {
        signal(SIGPIPE, SIG_DFL);
    }
}

#[cfg(not(unix))]
fn restore_default_sigpipe() {}
