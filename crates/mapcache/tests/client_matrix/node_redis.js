// Everyday node-redis use, printed line by line so that two servers can be compared.
//   NODE_PATH=... node node_redis.js HOST PORT RESP(2|3) [--scripting]
// Run by crates/mapcache/tests/client_matrix.rs; nothing printed depends on the run.
const { createClient, WatchError } = require("redis");

const show = (label, value) => console.log(`${label}: ${JSON.stringify(value)}`);

async function main() {
  const [host, port, resp] = [process.argv[2], Number(process.argv[3]), Number(process.argv[4])];
  const scripting = process.argv.includes("--scripting");
  const opts = { socket: { host, port } };
  if (resp === 3) opts.RESP = 3;
  const r = await createClient(opts).connect();
  const other = await createClient(opts).connect();
  await r.flushAll();
  show("ping", await r.ping());
  show("set", await r.set("greeting", "hello"));
  show("get", await r.get("greeting"));
  show("set nx", await r.set("greeting", "x", { NX: true }));
  show("incr", await r.incr("counter"));
  show("incrByFloat", await r.incrByFloat("f", 1.5));
  show("mSet", await r.mSet({ a: "1", b: "2" }));
  show("mGet", await r.mGet(["a", "missing", "b"]));
  show("set EX", await r.set("temp", "v", { EX: 100 }));
  show("ttl in range", (await r.ttl("temp")) > 0);
  show("hSet object", await r.hSet("user:1", { name: "Ada", age: "36" }));
  show("hGetAll", { ...(await r.hGetAll("user:1")) });
  show("hIncrBy", await r.hIncrBy("user:1", "age", 1));
  for (let i = 0; i < 300; i++) await r.hSet("bighash", `f${i}`, String(i));
  let fields = 0;
  for await (const entries of r.hScanIterator("bighash", { MATCH: "f1*" })) {
    fields += Array.isArray(entries) ? entries.length : 1;
  }
  show("hScanIterator", fields);
  show("rPush", await r.rPush("queue", ["a", "b", "c"]));
  show("lRange", await r.lRange("queue", 0, -1));
  show("lPop", await r.lPop("queue"));
  for (let i = 0; i < 200; i++) await r.set(`scan:${i}`, String(i));
  const keys = [];
  for await (const batch of r.scanIterator({ MATCH: "scan:1*", COUNT: 50 })) {
    keys.push(...(Array.isArray(batch) ? batch : [batch]));
  }
  show("scanIterator", keys.sort());
  show("types", await Promise.all(["greeting", "user:1", "queue", "none"].map((k) => r.type(k))));
  show("del", await r.del(["a", "b", "missing"]));
  // multi().exec(): MULTI/EXEC.
  show("multi", await r.multi().incr("tx").incr("tx").get("tx").exec());
  try {
    show("multi error", await r.multi().set("s", "v").lPush("s", "x").get("s").exec());
  } catch (e) {
    show("multi error", e.constructor.name);
  }
  // WATCH: a conflict (WatchError), then a retry that commits.
  await r.set("balance", "100");
  const attempts = [];
  for (let i = 0; i < 3; i++) {
    await r.watch("balance");
    const value = Number(await r.get("balance"));
    if (i === 0) await other.incrBy("balance", 5);
    try {
      attempts.push(await r.multi().set("balance", String(value - 10)).exec());
      break;
    } catch (e) {
      attempts.push(e instanceof WatchError ? "conflict" : e.message);
    }
  }
  show("watch", attempts);
  show("balance", await r.get("balance"));
  try { await r.lPush("greeting", "x"); } catch (e) { show("wrongtype", e.message); }
  show("configSet", await r.configSet("maxmemory", "100mb"));
  show("configGet", { ...(await r.configGet("maxmemory")) });
  await r.configSet("maxmemory", "0");
  show("objectEncoding", await r.objectEncoding("user:1"));
  show("memoryUsage", await r.memoryUsage("user:1"));
  if (scripting) {
    await r.scriptFlush();
    show("eval", await r.eval("return {KEYS[1], ARGV[1]}", { keys: ["k"], arguments: ["v"] }));
    const sha = await r.scriptLoad("return redis.call('INCR', KEYS[1])");
    show("evalSha", await r.evalSha(sha, { keys: ["scripted"] }));
  }
  await r.quit();
  await other.quit();
}

main().catch((e) => { console.log(`failed: ${e.message}`); process.exit(1); });
