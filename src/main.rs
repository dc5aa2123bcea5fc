fn main() -> std::process::ExitCode {
    huddle::cli::main()
}
