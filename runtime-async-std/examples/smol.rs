//! The Socket.IO server and client embedded in one plain smol program: the server on a
//! loopback port, a client connecting to it, an event acknowledged each way (client → server,
//! then server → client), printed, then a clean shutdown and exit 0.
//!
//! ```text
//! cargo run -p socketio-async-std --example smol
//! cargo run -p socketio-async-std --example smol -- --serve   # keep serving on 127.0.0.1:3000
//! ```
//!
//! With `--serve`, after the demo the server stays up for other socket.io clients
//! (`SOCKETIO_ADDR` to change the address) until the process is stopped.

use std::{sync::Arc, time::Duration};

use socketio_async_std::{
    AckSender, AsyncIoConnector, AsyncIoRuntime, ClientBuilderExt, HttpServer, Server, Socket,
    Value,
    client::{AckSender as ClientAckSender, Client, ClientSocket},
};

/// How long any step of the demo may take before it is reported as failed.
const STEP: Duration = Duration::from_secs(10);

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let serve = std::env::args().any(|arg| arg == "--serve");
    smol::block_on(run(serve))
}

async fn run(serve: bool) -> Result<(), Box<dyn std::error::Error>> {
    // The server: `echo` is acknowledged with its argument; on connection the server asks the
    // client a question and prints the acknowledged answer.
    let (answered_tx, answered) = async_channel::bounded::<String>(1);
    let io = Server::builder().build(Arc::new(AsyncIoRuntime::smol()));
    io.ns("/", move |socket: Socket| {
        let answered = answered_tx.clone();
        async move {
            println!("server: {} connected", socket.id());
            socket.on(
                "echo",
                |_socket: Socket, value: Value, ack: Option<AckSender>| async move {
                    if let Some(ack) = ack {
                        ack.send(&value).ok();
                    }
                },
            );
            let reply = socket
                .emit_with_ack::<String, _>("question", &"ready?")
                .timeout(STEP)
                .await;
            match reply {
                Ok(answer) => {
                    println!("server: the client acknowledged 'question' with {answer:?}");
                    answered.try_send(answer).ok();
                }
                Err(error) => println!("server: no answer to 'question': {error}"),
            }
        }
    });
    let addr = match serve {
        true => std::env::var("SOCKETIO_ADDR").unwrap_or_else(|_| "127.0.0.1:3000".into()),
        false => "127.0.0.1:0".into(),
    };
    let listener = async_net::TcpListener::bind(addr.as_str()).await?;
    let local = listener.local_addr()?;
    println!("server: socket.io on http://{local}");
    let (stop_tx, stop) = async_channel::bounded::<()>(1);
    let server = smol::spawn(
        HttpServer::new(io).serve_with_shutdown(listener, async move {
            stop.recv().await.ok();
        }),
    );

    // The client, on the same executor.
    let client = Client::builder(format!("http://{local}"))
        .build_async_io(AsyncIoRuntime::smol(), AsyncIoConnector::new())?;
    let socket = client.default_socket();
    socket.on(
        "question",
        |_socket: ClientSocket, question: String, ack: Option<ClientAckSender>| async move {
            println!("client: the server asks {question:?}");
            if let Some(ack) = ack {
                ack.send(&"yes").ok();
            }
        },
    );
    client.connect();
    within(socket.wait_connected()).await??;
    println!(
        "client: connected over {}",
        client.transport().unwrap_or("?")
    );
    let echoed: serde_json::Value = socket
        .emit_with_ack("echo", &serde_json::json!({ "hello": "world" }))
        .timeout(STEP)
        .await?;
    println!("client: the server acknowledged 'echo' with {echoed}");
    let answer = within(answered.recv()).await??;
    assert_eq!(answer, "yes");

    if serve {
        println!("serving until stopped (Ctrl-C)");
        smol::future::pending::<()>().await;
    }
    client.disconnect();
    stop_tx.send(()).await?;
    within(server).await??;
    println!("shut down cleanly");
    Ok(())
}

/// `future`, or an error after [`STEP`].
async fn within<T>(future: impl std::future::IntoFuture<Output = T>) -> Result<T, std::io::Error> {
    smol::future::or(async { Ok(future.await) }, async {
        smol::Timer::after(STEP).await;
        Err(std::io::Error::new(
            std::io::ErrorKind::TimedOut,
            "timed out",
        ))
    })
    .await
}
