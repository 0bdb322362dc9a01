//! The `rosterhub` binary: everything lives in the library.

fn main() {
    std::process::exit(rosterhub::cli::run());
}
