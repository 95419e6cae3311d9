fn main() -> std::process::ExitCode {
    tillbridge_cli::main()
}
