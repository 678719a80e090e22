// Everyday ioredis use, printed line by line so that two servers can be compared.
//   NODE_PATH=... node ioredis.js HOST PORT [--scripting]
// Run by crates/mapcache/tests/client_matrix.rs; nothing printed depends on the run.
const Redis = require("ioredis");

const show = (label, value) => console.log(`${label}: ${JSON.stringify(value)}`);

async function collect(stream) {
  const out = [];
  for await (const batch of stream) out.push(...batch);
  return out.sort();
}

async function main() {
  const [host, port] = [process.argv[2], Number(process.argv[3])];
  const scripting = process.argv.includes("--scripting");
  const r = new Redis({ host, port, lazyConnect: false });
  const other = new Redis({ host, port });
  await r.flushall();
  show("ping", await r.ping());
  show("set", await r.set("greeting", "hello"));
  show("get", await r.get("greeting"));
  show("set nx", await r.set("greeting", "x", "NX"));
  show("incr", await r.incr("counter"));
  show("incrbyfloat", await r.incrbyfloat("f", "1.5"));
  show("mset", await r.mset({ a: "1", b: "2" }));
  show("mget", await r.mget("a", "missing", "b"));
  show("set ex", await r.set("temp", "v", "EX", 100));
  show("ttl in range", (await r.ttl("temp")) > 0);
  show("hset object", await r.hset("user:1", { name: "Ada", age: "36" }));
  show("hgetall", await r.hgetall("user:1"));
  show("hincrby", await r.hincrby("user:1", "age", 1));
  show("hmget", await r.hmget("user:1", "name", "nope"));
  for (let i = 0; i < 300; i++) await r.hset("bighash", `f${i}`, String(i));
  show("hscanStream", (await collect(r.hscanStream("bighash", { match: "f1*" }))).length);
  show("rpush", await r.rpush("queue", "a", "b", "c"));
  show("lrange", await r.lrange("queue", 0, -1));
  show("lpop", await r.lpop("queue"));
  for (let i = 0; i < 200; i++) await r.set(`scan:${i}`, i);
  show("scanStream", await collect(r.scanStream({ match: "scan:1*", count: 50 })));
  show("types", await Promise.all(["greeting", "user:1", "queue", "none"].map((k) => r.type(k))));
  show("del", await r.del("a", "b", "missing"));
  // multi().exec(): MULTI/EXEC, each result as [error, value].
  show("multi", await r.multi().incr("tx").incr("tx").get("tx").exec());
  const mixed = await r.multi().set("s", "v").lpush("s", "x").get("s").exec();
  show("multi error", mixed.map(([e, v]) => (e ? e.message : v)));
  show("pipeline", await r.pipeline().set("p", "1").incr("p").get("p").exec());
  // WATCH: a conflict (exec answers null), then a retry that commits.
  await r.set("balance", "100");
  const attempts = [];
  for (let i = 0; i < 3; i++) {
    await r.watch("balance");
    const value = Number(await r.get("balance"));
    if (i === 0) await other.incrby("balance", 5);
    const res = await r.multi().set("balance", String(value - 10)).exec();
    attempts.push(res === null ? "conflict" : res);
    if (res !== null) break;
  }
  show("watch", attempts);
  show("balance", await r.get("balance"));
  try { await r.lpush("greeting", "x"); } catch (e) { show("wrongtype", e.message); }
  show("config set", await r.config("SET", "maxmemory", "100mb"));
  show("config get", await r.config("GET", "maxmemory"));
  await r.config("SET", "maxmemory", "0");
  show("object encoding", await r.object("ENCODING", "user:1"));
  show("memory usage", await r.memory("USAGE", "user:1"));
  if (scripting) {
    r.defineCommand("incrTwice", { numberOfKeys: 1, lua: "redis.call('INCR', KEYS[1]); return redis.call('INCR', KEYS[1])" });
    await r.script("FLUSH");
    show("defineCommand", await r.incrTwice("scripted"));
    show("defineCommand again", await r.incrTwice("scripted"));
    show("eval", await r.eval("return {KEYS[1], ARGV[1]}", 1, "k", "v"));
  }
  r.disconnect();
  other.disconnect();
}

main().catch((e) => { console.log(`failed: ${e.message}`); process.exit(1); });
