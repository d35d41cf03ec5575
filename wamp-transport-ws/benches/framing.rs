//! Framing benchmarks: what an open WebSocket connection costs per message, on each
//! side, with the WAMP check left to the caller (`Validation::Skip`), so only framing is
//! measured.
//!
//! - `server_read/<size>`: a server takes a batch of 64 masked client frames in one
//!   `handle_input` and hands out every message (`poll_message`); the router's read path.
//! - `client_read/<size>`: the same for a client reading unmasked server frames.
//! - `server_write/<size>` and `client_write/<size>`: 64 `send_message` calls and the
//!   drained `poll_transmit` output.
//!
//! Sizes: 32 B and 16 KiB binary (MessagePack) payloads.
//!
//! Run with `cargo bench -p wamp-transport-ws --bench framing`.

use std::hint::black_box;
use std::time::{Duration, Instant};

use bytes::Bytes;
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use wamp_proto::serializer::SerializerKind;
use wamp_transport_ws::{ClientConfig, ServerConfig, Validation, WebSocket, WsClient, WsServer};

const BATCH: usize = 64;

/// Feeds `wire` to `ws` in one read and returns how many payload bytes came out.
fn read_batch(ws: &mut WebSocket, now: Instant, wire: &[u8]) -> usize {
    ws.handle_input(now, black_box(wire));
    let mut n = 0;
    while let Some(m) = ws.poll_message() {
        n += m.len();
    }
    n
}

/// A client and a server after the opening handshake, both skipping the WAMP check.
#[allow(clippy::disallowed_methods)]
fn open_pair() -> (WsClient, WsServer, Instant) {
    let now = Instant::now();
    let config = ClientConfig::new("ws://localhost:8080/ws")
        .expect("url")
        .serializers([SerializerKind::MsgPack])
        .validation(Validation::Skip);
    let mut client = WsClient::new(config, now).expect("client");
    let server_config = ServerConfig::new()
        .serializers([SerializerKind::MsgPack])
        .validation(Validation::Skip);
    let mut server = WsServer::new(server_config, now).expect("server");
    for _ in 0..4 {
        while let Some(bytes) = client.poll_transmit() {
            server.handle_input(now, &bytes);
        }
        while let Some(bytes) = server.poll_transmit() {
            client.handle_input(now, &bytes);
        }
    }
    while client.poll_event().is_some() {}
    while server.poll_event().is_some() {}
    assert!(client.is_open() && server.is_open(), "the pair opened");
    (client, server, now)
}

/// `BATCH` frames of `size` bytes as the sender writes them, in one buffer.
fn wire(size: usize, mut send: impl FnMut(Bytes) -> Vec<Bytes>) -> Vec<u8> {
    let payload = Bytes::from(vec![0x93; size]);
    (0..BATCH)
        .flat_map(|_| send(payload.clone()))
        .flatten()
        .collect()
}

fn drain_client(client: &mut WsClient) -> Vec<Bytes> {
    std::iter::from_fn(|| client.poll_transmit()).collect()
}

fn drain_server(server: &mut WsServer) -> Vec<Bytes> {
    std::iter::from_fn(|| server.poll_transmit()).collect()
}

fn framing(c: &mut Criterion) {
    for (name, size) in [("32B", 32), ("16KiB", 16 * 1024)] {
        let mut group = c.benchmark_group(name);
        group.throughput(Throughput::Elements(BATCH as u64));
        group.measurement_time(Duration::from_secs(3));

        let (mut client, mut server, now) = open_pair();
        let from_client = wire(size, |p| {
            client.send_message(p).expect("send");
            drain_client(&mut client)
        });
        let from_server = wire(size, |p| {
            server.send_message(p).expect("send");
            drain_server(&mut server)
        });

        group.bench_function("server_read", |b| {
            b.iter(|| assert_eq!(read_batch(&mut server, now, &from_client), BATCH * size))
        });
        group.bench_function("client_read", |b| {
            b.iter(|| assert_eq!(read_batch(&mut client, now, &from_server), BATCH * size))
        });
        let payload = Bytes::from(vec![0x93; size]);
        group.bench_function("server_write", |b| {
            b.iter(|| {
                for _ in 0..BATCH {
                    server.send_message(payload.clone()).expect("send");
                }
                // Dropped inside the loop, as a connection drops what it wrote.
                black_box(drain_server(&mut server)).len()
            })
        });
        group.bench_function("client_write", |b| {
            b.iter(|| {
                for _ in 0..BATCH {
                    client.send_message(payload.clone()).expect("send");
                }
                // Dropped inside the loop, as a connection drops what it wrote.
                black_box(drain_client(&mut client)).len()
            })
        });
        group.finish();
    }
}

criterion_group!(benches, framing);
criterion_main!(benches);
