//! The Socket.IO server embedded in a plain smol program: an echo with acks on `/`, and a
//! timer of the program's own that broadcasts the time every few seconds.
//!
//! `cargo run -p socketio-async-std --example smol` then connect a socket.io client to
//! `http://127.0.0.1:3000` (`SOCKETIO_ADDR` to change the address).

use std::{sync::Arc, time::Duration};

use socketio_async_std::{AckSender, AsyncIoRuntime, HttpServer, Server, Socket, Value};

fn main() -> std::io::Result<()> {
    smol::block_on(async {
        let io = Server::builder().build(Arc::new(AsyncIoRuntime::smol()));
        io.ns("/", |socket: Socket| async move {
            println!("connected: {}", socket.id());
            socket.on(
                "echo",
                |socket: Socket, value: Value, ack: Option<AckSender>| async move {
                    match ack {
                        Some(ack) => ack.send(&value).unwrap(),
                        None => socket.emit("echo", &value).unwrap(),
                    }
                },
            );
        });
        // The program's own task next to the server, on the same executor.
        let ticker = io.clone();
        smol::spawn(async move {
            let started = std::time::Instant::now();
            loop {
                smol::Timer::after(Duration::from_secs(5)).await;
                let _ = ticker.emit("uptime", &started.elapsed().as_secs());
            }
        })
        .detach();
        let addr = std::env::var("SOCKETIO_ADDR").unwrap_or_else(|_| "127.0.0.1:3000".into());
        let listener = async_net::TcpListener::bind(addr.as_str()).await?;
        println!("socket.io on http://{}", listener.local_addr()?);
        HttpServer::new(io).serve(listener).await
    })
}
