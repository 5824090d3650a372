//! The `assay` binary: parse arguments, run the CLI or the GUI.

fn main() -> std::process::ExitCode {
    assay::cli::run()
}
