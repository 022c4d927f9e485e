//! The `mexp` binary; everything lives in the library (`mexp::cli`).

fn main() -> std::process::ExitCode {
    mexp::cli::main()
}
