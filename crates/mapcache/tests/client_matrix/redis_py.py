"""Everyday redis-py use, printed line by line so that two servers can be compared.

    python3 redis_py.py HOST PORT PROTOCOL(2|3) MODE(sync|async) [--scripting]

Run by crates/mapcache/tests/client_matrix.rs against redis-server and mapcache; the
two outputs must be equal. Nothing printed depends on the run (ids, exact TTLs).
"""
import asyncio
import inspect
import sys

import redis
import redis.asyncio


async def aw(x):
    return await x if inspect.isawaitable(x) else x


async def collect(it):
    if hasattr(it, "__aiter__"):
        return [x async for x in it]
    return list(it)


def show(label, value):
    print(f"{label}: {value!r}", flush=True)


async def everyday(r, other, scripting):
    await aw(r.flushall())
    show("ping", await aw(r.ping()))
    # Strings.
    show("set", await aw(r.set("greeting", "hello")))
    show("get", await aw(r.get("greeting")))
    show("set nx", await aw(r.set("greeting", "x", nx=True)))
    show("incr", await aw(r.incr("counter")))
    show("incrby", await aw(r.incrby("counter", 41)))
    show("incrbyfloat", await aw(r.incrbyfloat("f", 1.5)))
    show("mset", await aw(r.mset({"a": "1", "b": "2", "c": "3"})))
    show("mget", await aw(r.mget(["a", "b", "missing", "c"])))
    show("append", await aw(r.append("greeting", " world")))
    show("strlen", await aw(r.strlen("greeting")))
    show("getrange", await aw(r.getrange("greeting", 0, 4)))
    show("setex", await aw(r.setex("temp", 100, "v")))
    show("ttl in range", 0 < await aw(r.ttl("temp")) <= 100)
    show("persist", await aw(r.persist("temp")))
    show("ttl after persist", await aw(r.ttl("temp")))
    show("getdel", await aw(r.getdel("temp")))
    # Hashes as mappings.
    show("hset mapping", await aw(r.hset("user:1", mapping={"name": "Ada", "age": "36", "lang": "en"})))
    show("hgetall", await aw(r.hgetall("user:1")))
    show("hget", await aw(r.hget("user:1", "name")))
    show("hmget", await aw(r.hmget("user:1", ["name", "nope", "age"])))
    show("hincrby", await aw(r.hincrby("user:1", "age", 1)))
    show("hincrbyfloat", await aw(r.hincrbyfloat("user:1", "score", 2.5)))
    show("hexists", await aw(r.hexists("user:1", "lang")))
    show("hdel", await aw(r.hdel("user:1", "lang")))
    show("hlen", await aw(r.hlen("user:1")))
    show("hkeys", sorted(await aw(r.hkeys("user:1"))))
    show("hsetnx", await aw(r.hsetnx("user:1", "name", "Bob")))
    for i in range(300):
        await aw(r.hset("bighash", f"f{i}", str(i)))
    show("hscan_iter", sorted(await collect(r.hscan_iter("bighash", match="f1*"))))
    # Lists.
    show("rpush", await aw(r.rpush("queue", "a", "b", "c")))
    show("lpush", await aw(r.lpush("queue", "z")))
    show("lrange", await aw(r.lrange("queue", 0, -1)))
    show("lpop", await aw(r.lpop("queue")))
    show("rpop count", await aw(r.rpop("queue", 2)))
    show("llen", await aw(r.llen("queue")))
    show("lindex", await aw(r.lindex("queue", 0)))
    show("lset", await aw(r.lset("queue", 0, "A")))
    show("linsert", await aw(r.linsert("queue", "after", "A", "B")))
    show("lrem", await aw(r.lrem("queue", 0, "B")))
    show("ltrim", await aw(r.ltrim("queue", 0, 0)))
    show("lpos", await aw(r.lpos("queue", "A")))
    # Keys, types, SCAN.
    for i in range(200):
        await aw(r.set(f"scan:{i}", i))
    show("scan_iter", sorted(await collect(r.scan_iter(match="scan:1*", count=50))))
    show("scan_iter type", sorted(await collect(r.scan_iter(match="user:*", _type="hash"))))
    show("types", [await aw(r.type(k)) for k in ["greeting", "user:1", "queue", "none"]])
    show("exists", await aw(r.exists("a", "b", "missing")))
    show("rename", await aw(r.rename("a", "a2")))
    show("copy", await aw(r.copy("a2", "a3")))
    show("delete", await aw(r.delete("a2", "a3", "missing")))
    show("expire", await aw(r.expire("b", 100)))
    show("expire nx", await aw(r.expire("b", 50, nx=True)))
    show("dbsize", await aw(r.dbsize()))
    # The default pipeline is a transaction (MULTI/EXEC).
    p = r.pipeline()
    p.incr("tx").incr("tx").get("tx").lpush("txlist", "x")
    show("pipeline", await aw(p.execute()))
    p = r.pipeline(transaction=False)
    p.set("nt", 1).get("nt").incr("nt")
    show("pipeline no tx", await aw(p.execute()))
    p = r.pipeline()
    p.set("s", "v").lpush("s", "x").get("s")
    show("pipeline error", [type(x).__name__ if isinstance(x, Exception) else x
                            for x in await aw(p.execute(raise_on_error=False))])
    # WATCH: a conflict, then a retry that succeeds.
    await aw(r.set("balance", 100))
    attempts = []
    for _ in range(3):
        p = r.pipeline()
        try:
            await aw(p.watch("balance"))
            value = int(await aw(p.get("balance")))
            if not attempts:
                await aw(other.incrby("balance", 5))  # another client writes meanwhile
            p.multi()
            p.set("balance", value - 10)
            result = await aw(p.execute())
            attempts.append(("committed", result))
            break
        except redis.WatchError:
            attempts.append("conflict")
        finally:
            await aw(p.reset())
    show("watch", attempts)
    show("balance", await aw(r.get("balance")))
    # Errors as the client raises them.
    try:
        await aw(r.lpush("greeting", "x"))
    except redis.ResponseError as e:
        show("wrongtype", str(e))
    try:
        await aw(r.incr("greeting"))
    except redis.ResponseError as e:
        show("not integer", str(e))
    # Introspection a client or tool sends.
    show("config maxmemory", await aw(r.config_set("maxmemory", "100mb")))
    show("config get", await aw(r.config_get("maxmemory")))
    await aw(r.config_set("maxmemory", "0"))
    show("object encoding", await aw(r.object("encoding", "user:1")))
    show("memory usage", await aw(r.memory_usage("user:1")))
    info = await aw(r.info("memory"))
    show("info fields", all(k in info for k in ["used_memory", "used_memory_peak", "mem_fragmentation_ratio"]))
    show("echo", await aw(r.echo("hi")))
    if scripting:
        # The lock helper: release runs a Lua script (EVALSHA); the key must go.
        lock = r.lock("resource", timeout=None)
        show("lock acquire", await aw(lock.acquire(blocking=False)))
        show("lock held", await aw(r.exists("resource")))
        show("lock second", await aw(r.lock("resource").acquire(blocking=False)))
        await aw(lock.release())
        show("lock released", await aw(r.exists("resource")))
        lock = r.lock("resource", timeout=10)
        show("lock with timeout", await aw(lock.acquire(blocking=False)))
        show("lock extend", await aw(lock.extend(5)))
        await aw(lock.release())
        # Script helpers: EVALSHA, falling back to EVAL/SCRIPT LOAD on NOSCRIPT.
        await aw(r.script_flush())
        incr = r.register_script("return redis.call('INCRBY', KEYS[1], ARGV[1])")
        show("script first", await aw(incr(keys=["scripted"], args=[2])))
        show("script again", await aw(incr(keys=["scripted"], args=[3])))
        show("eval", await aw(r.eval("return {KEYS[1], ARGV[1], 1, 'x'}", 1, "k", "v")))
        show("script exists", await aw(r.script_exists(incr.sha)))


def main():
    host, port, protocol, mode = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
    scripting = "--scripting" in sys.argv
    opts = dict(host=host, port=port, protocol=protocol, decode_responses=True)
    if mode == "sync":
        r, other = redis.Redis(**opts), redis.Redis(**opts)
        asyncio.run(everyday(r, other, scripting))
    else:
        async def go():
            r, other = redis.asyncio.Redis(**opts), redis.asyncio.Redis(**opts)
            await everyday(r, other, scripting)
            await r.aclose()
            await other.aclose()
        asyncio.run(go())


if __name__ == "__main__":
    main()
