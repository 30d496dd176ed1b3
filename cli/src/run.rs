//! Running `listen` and `emit` on the client library.

use crate::Output;
use crate::args::{Cli, Command, ConnectArgs};
use crate::exit::Failure;
use crate::values::{parse_auth, parse_json_arg};
use socketio_protocol::Value;

/// The parsed, checked inputs of a command.
struct Prepared {
    auth: Option<Value>,
    args: Vec<Value>,
}

fn prepare(connect: &ConnectArgs, args: &[String]) -> Result<Prepared, Failure> {
    let auth = connect
        .auth
        .as_deref()
        .map(parse_auth)
        .transpose()
        .map_err(Failure::Usage)?;
    let args = args
        .iter()
        .map(|a| parse_json_arg(a))
        .collect::<Result<Vec<_>, _>>()
        .map_err(Failure::Usage)?;
    if !connect.namespace.starts_with('/') {
        return Err(Failure::Usage(format!(
            "--namespace must start with '/', got {:?}",
            connect.namespace
        )));
    }
    Ok(Prepared { auth, args })
}

pub(crate) async fn run(cli: Cli, output: &mut Output) -> Result<(), Failure> {
    match cli.command {
        Command::Listen(listen) => {
            let _prepared = prepare(&listen.connect, &[])?;
            let _ = output;
            Err(Failure::Other(
                "the client library is not wired in yet".into(),
            ))
        }
        Command::Emit(emit) => {
            let _prepared = prepare(&emit.connect, &emit.args)?;
            Err(Failure::Other(
                "the client library is not wired in yet".into(),
            ))
        }
    }
}
