//! The hot paths: decode + dispatch + store + encode for GET/SET/INCR/HSET/HGET/LPUSH/LRANGE.

use bytes::{Bytes, BytesMut};
use criterion::{black_box, criterion_group, criterion_main, Criterion, Throughput};
use mapcache_benches::{cmd, Bench};
use mapcache_resp::{decode_command, Limits};

fn store_paths(c: &mut Criterion) {
    let mut g = c.benchmark_group("execute");
    g.throughput(Throughput::Elements(1));
    let mut b = Bench::default();
    b.run(&cmd(&["SET", "hot", "value-of-sixteen"]));
    b.run(&cmd(&["SET", "counter", "0"]));
    let get = cmd(&["GET", "hot"]);
    let set = cmd(&["SET", "hot", "value-of-sixteen"]);
    let incr = cmd(&["INCR", "counter"]);
    let hset = cmd(&["HSET", "h", "field", "value"]);
    let ping = cmd(&["PING"]);
    g.bench_function("ping", |bn| bn.iter(|| b.run(black_box(&ping))));
    g.bench_function("get_hot", |bn| bn.iter(|| b.run(black_box(&get))));
    g.bench_function("set_hot", |bn| bn.iter(|| b.run(black_box(&set))));
    g.bench_function("incr", |bn| bn.iter(|| b.run(black_box(&incr))));
    g.bench_function("hset_same_field", |bn| bn.iter(|| b.run(black_box(&hset))));
    let mut i = 0u64;
    g.bench_function("lpush_rpop", |bn| {
        bn.iter(|| {
            i += 1;
            b.run(&cmd(&["LPUSH", "l", "x"]));
            b.run(&cmd(&["RPOP", "l"]));
        })
    });
    // A 10-field record and a 10-item list of short strings (`stress memory`'s shapes):
    // read one field, read the whole list, rewrite one field.
    let mut record = vec!["HSET", "user"];
    let fields: Vec<String> = (0..10).map(|j| format!("field{j}")).collect();
    let values: Vec<String> = (0..10).map(|j| format!("v{j:08}")).collect();
    for (f, v) in fields.iter().zip(&values) {
        record.extend([f.as_str(), v.as_str()]);
    }
    b.run(&cmd(&record));
    let mut items = vec!["RPUSH", "list"];
    items.extend(values.iter().map(String::as_str));
    b.run(&cmd(&items));
    let hget = cmd(&["HGET", "user", "field7"]);
    let hset_record = cmd(&["HSET", "user", "field3", "v99999999"]);
    let lrange = cmd(&["LRANGE", "list", "0", "-1"]);
    g.bench_function("hget_10_fields", |bn| bn.iter(|| b.run(black_box(&hget))));
    g.bench_function("hset_10_fields", |bn| {
        bn.iter(|| b.run(black_box(&hset_record)))
    });
    g.bench_function("lrange_10_items", |bn| {
        bn.iter(|| b.run(black_box(&lrange)))
    });
    let keys: Vec<Vec<Bytes>> = (0..100_000)
        .map(|i| cmd(&["SET", &format!("key:{i}"), "v"]))
        .collect();
    let mut n = 0;
    g.bench_function("set_100k_keys_round_robin", |bn| {
        bn.iter(|| {
            n = (n + 1) % keys.len();
            b.run(&keys[n]);
        })
    });
    // A cache's usual write: a 100-byte value whose length differs from the one
    // stored (99 and 100 bytes in turn), so every SET stores a new string.
    let long: Vec<Vec<Bytes>> = [99, 100]
        .iter()
        .map(|&len| cmd(&["SET", "long", &"v".repeat(len)]))
        .collect();
    let mut m = 0;
    g.bench_function("set_100_bytes_new_length", |bn| {
        bn.iter(|| {
            m ^= 1;
            b.run(&long[m]);
        })
    });
    g.finish();
}

fn decode(c: &mut Criterion) {
    let mut g = c.benchmark_group("resp");
    let frame = b"*3\r\n$3\r\nSET\r\n$8\r\nkey:1234\r\n$16\r\nvalue-of-sixteen\r\n";
    let mut pipeline = Vec::new();
    for _ in 0..64 {
        pipeline.extend_from_slice(frame);
    }
    g.throughput(Throughput::Elements(64));
    let limits = Limits::default();
    let mut args = Vec::with_capacity(8);
    g.bench_function("decode_64_set_commands", |bn| {
        bn.iter(|| {
            let mut buf = BytesMut::from(&pipeline[..]);
            while decode_command(&mut buf, &limits, &mut args).unwrap() {}
            black_box(&args);
        })
    });
    g.finish();
}

criterion_group!(benches, store_paths, decode);
criterion_main!(benches);
