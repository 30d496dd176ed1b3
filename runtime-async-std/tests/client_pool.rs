//! `AsyncIoConnector`'s keep-alive pool against a raw HTTP/1.1 server, under smol and
//! async-std: a connection is reused while the server keeps it; one the server closed while
//! idle is retried on a new connection, one whose answer was cut off is not; `Connection: close`
//! and chunked answers; interim answers and trailers skipped; a huge declared length refused.

mod common;

use std::{
    net::SocketAddr,
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
};

use async_net::{TcpListener, TcpStream};
use bytes::Bytes;
use common::*;
use futures_lite::{AsyncReadExt, AsyncWriteExt};
use socketio_async_std::{AsyncIoConnector, client::Connector};

/// A server that answers every request on a connection with `answer`, and closes the
/// connection after it when `close_after` is set. Counts the connections it accepted.
async fn raw_server(
    executor: Executor,
    answer: &'static [u8],
    close_after: bool,
) -> (SocketAddr, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let accepted = Arc::new(AtomicUsize::new(0));
    let count = accepted.clone();
    executor.spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            count.fetch_add(1, Ordering::SeqCst);
            executor.spawn(serve(stream, answer, close_after));
        }
    });
    (addr, accepted)
}

async fn serve(mut stream: TcpStream, answer: &'static [u8], close_after: bool) {
    let mut buf = Vec::new();
    loop {
        // The connector's requests here have no body: a request ends at the empty line.
        while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
            let mut chunk = [0; 1024];
            match stream.read(&mut chunk).await {
                Ok(0) | Err(_) => return,
                Ok(read) => buf.extend_from_slice(&chunk[..read]),
            }
        }
        let end = buf.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
        buf.drain(..end);
        if stream.write_all(answer).await.is_err() || close_after {
            return;
        }
    }
}

async fn get(connector: &AsyncIoConnector, addr: SocketAddr) -> http::Response<Bytes> {
    let request = http::Request::get(format!("http://{addr}/socket.io/?EIO=4"))
        .body(Bytes::new())
        .unwrap();
    timeout(connector.http(request)).await.unwrap()
}

on_executors!(keep_alive_connections_are_reused, |executor| async move {
    let (addr, accepted) = raw_server(
        executor,
        b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok",
        false,
    )
    .await;
    let connector = AsyncIoConnector::new();
    for _ in 0..3 {
        assert_eq!(get(&connector, addr).await.body().as_ref(), b"ok");
    }
    assert_eq!(accepted.load(Ordering::SeqCst), 1);
});

on_executors!(
    a_connection_closed_while_idle_is_retried_on_a_new_one,
    |executor| async move {
        // No `Connection: close`: the connector pools the connection, the server closes it.
        let (addr, accepted) = raw_server(
            executor,
            b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok",
            true,
        )
        .await;
        let connector = AsyncIoConnector::new();
        for n in 1..=3 {
            assert_eq!(get(&connector, addr).await.body().as_ref(), b"ok");
            assert_eq!(accepted.load(Ordering::SeqCst), n);
        }
    }
);

on_executors!(
    connection_close_and_chunked_answers,
    |executor| async move {
        let (addr, accepted) = raw_server(
            executor,
            b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\nconnection: close\r\n\r\n\
              2\r\nok\r\n1\r\n!\r\n0\r\n\r\n",
            true,
        )
        .await;
        let connector = AsyncIoConnector::new();
        for n in 1..=2 {
            assert_eq!(get(&connector, addr).await.body().as_ref(), b"ok!");
            assert_eq!(accepted.load(Ordering::SeqCst), n);
        }
    }
);

/// A server whose first answer on a connection is whole and whose second is cut off (the head
/// and part of the body, then the connection closes). Counts requests across connections.
async fn cut_off_server(executor: Executor) -> (SocketAddr, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let requests = Arc::new(AtomicUsize::new(0));
    let count = requests.clone();
    executor.spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            let count = count.clone();
            executor.spawn(async move {
                let mut buf = Vec::new();
                for answer in [
                    &b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok"[..],
                    &b"HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\nok"[..],
                ] {
                    while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
                        let mut chunk = [0; 1024];
                        match stream.read(&mut chunk).await {
                            Ok(0) | Err(_) => return,
                            Ok(read) => buf.extend_from_slice(&chunk[..read]),
                        }
                    }
                    let end = buf.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
                    buf.drain(..end);
                    count.fetch_add(1, Ordering::SeqCst);
                    if stream.write_all(answer).await.is_err() {
                        return;
                    }
                }
            });
        }
    });
    (addr, requests)
}

on_executors!(
    a_request_whose_answer_was_cut_off_is_not_sent_again,
    |executor| async move {
        let (addr, requests) = cut_off_server(executor).await;
        let connector = AsyncIoConnector::new();
        assert_eq!(get(&connector, addr).await.body().as_ref(), b"ok");
        // Pooled connection; the server takes the request and breaks off its answer: an error,
        // and no second copy of the request on a new connection.
        let request = http::Request::get(format!("http://{addr}/socket.io/?EIO=4"))
            .body(Bytes::new())
            .unwrap();
        assert!(timeout(connector.http(request)).await.is_err());
        assert_eq!(requests.load(Ordering::SeqCst), 2);
    }
);

on_executors!(
    interim_answers_chunks_and_trailers_are_read,
    |executor| async move {
        let (addr, _) = raw_server(
            executor,
            b"HTTP/1.1 100 Continue\r\n\r\n\
              HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n\
              3\r\nabc\r\n2;x=y\r\nde\r\n0\r\ntrailer: 1\r\n\r\n",
            false,
        )
        .await;
        let connector = AsyncIoConnector::new();
        let response = get(&connector, addr).await;
        assert_eq!(response.status(), http::StatusCode::OK);
        assert_eq!(response.body().as_ref(), b"abcde");
    }
);

on_executors!(
    a_huge_content_length_is_an_error_not_an_allocation,
    |executor| async move {
        let (addr, _) = raw_server(
            executor,
            b"HTTP/1.1 200 OK\r\ncontent-length: 99999999999999999\r\n\r\n",
            false,
        )
        .await;
        let connector = AsyncIoConnector::new();
        let request = http::Request::get(format!("http://{addr}/socket.io/?EIO=4"))
            .body(Bytes::new())
            .unwrap();
        assert!(timeout(connector.http(request)).await.is_err());
    }
);
