//! `sio`: a Socket.IO command-line client. See `sio --help` and the crate docs of `socketio_cli`.

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let code = socketio_cli::main_with(std::env::args_os(), socketio_cli::Output::stdio()).await;
    std::process::ExitCode::from(code)
}
