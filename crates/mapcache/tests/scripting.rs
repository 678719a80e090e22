//! Lua scripting and FUNCTION against redis-server: one transcript of EVAL scripts
//! (every supported command family called from Lua, conversions both ways in RESP2
//! and RESP3, the sandbox's errors, pcall and error_reply, cjson/bit/cmsgpack/struct,
//! EVALSHA and SCRIPT, FCALL and FUNCTION), sent to both servers by two clients (one
//! speaking RESP3); every reply must be byte-identical. Then, on both servers: a
//! script past `lua-time-limit` makes another client get BUSY until SCRIPT KILL, and a
//! script that wrote answers UNKILLABLE; and on mapcache: a script's writes are not
//! interleaved with another client's; redis-py's lock and script helpers work.

mod support;

#[path = "differential/client.rs"]
#[allow(dead_code)]
mod client;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use client::{Conn, RedisServer};
use mapcache_resp::Frame;
use support::Server;

/// A step: which client (0: RESP2, 1: RESP3 after its HELLO 3) sends which command.
type Step = (usize, &'static [&'static str]);

const E: &str = "EVAL";

#[rustfmt::skip]
const SCRIPT: &[Step] = &[
    (0, &["FLUSHALL"]),
    (0, &["SCRIPT", "FLUSH"]),
    (0, &["FUNCTION", "FLUSH"]),
    // Strings.
    (0, &[E, "redis.call('set', KEYS[1], ARGV[1]); return redis.call('get', KEYS[1])", "1", "s", "hello"]),
    (0, &[E, "return {redis.call('append', KEYS[1], '!'), redis.call('strlen', KEYS[1]), redis.call('getrange', KEYS[1], 1, 3)}", "1", "s"]),
    (0, &[E, "return {redis.call('incr', 'n'), redis.call('incrby', 'n', 10), redis.call('decr', 'n'), redis.call('incrbyfloat', 'f', '1.5')}", "0"]),
    (0, &[E, "redis.call('mset', 'a', 1, 'b', 2.5, 'c', 'x'); return redis.call('mget', 'a', 'b', 'c', 'nokey')", "0"]),
    (0, &[E, "return {redis.call('setnx', 'a', 9), redis.call('getset', 'a', 3), redis.call('getdel', 'a'), redis.call('exists', 'a')}", "0"]),
    (0, &[E, "return redis.call('setrange', 's', 0, 'J')", "0"]),
    (0, &[E, "return redis.call('set', 'k', 'v', 'NX')", "0"]),
    (0, &[E, "return redis.call('set', 'k', 'v', 'GET')", "0"]),
    (0, &[E, "return redis.call('incr', 's')", "0"]),
    (0, &[E, "return redis.pcall('incr', 's')", "0"]),
    (1, &[E, "return redis.pcall('incr', 's')", "0"]),
    (0, &[E, "local r = redis.pcall('incr', 's'); return {type(r), r.err}", "0"]),
    // Keys.
    (0, &[E, "return {redis.call('expire', 'k', 100), redis.call('ttl', 'k'), redis.call('persist', 'k'), redis.call('pttl', 'k'), redis.call('type', 'k')}", "0"]),
    (0, &[E, "return {redis.call('rename', 'k', 'k2'), redis.call('exists', 'k', 'k2'), redis.call('copy', 'k2', 'k3'), redis.call('del', 'k2', 'k3', 'none')}", "0"]),
    (0, &[E, "local t = redis.call('keys', '*'); table.sort(t); return t", "0"]),
    (0, &[E, "return redis.call('type', 'nokey')", "0"]),
    (1, &[E, "return redis.call('type', 's')", "0"]),
    (0, &[E, "return {redis.call('dbsize'), redis.call('echo', 'hi'), redis.call('ping')}", "0"]),
    (0, &[E, "redis.call('select', 1); redis.call('set', 'in1', 'x'); return redis.call('dbsize')", "0"]),
    (0, &["EXISTS", "in1"]),
    (0, &["SELECT", "1"]),
    (0, &["GET", "in1"]),
    (0, &["SELECT", "0"]),
    // Hashes, in both protocols and with setresp.
    (0, &[E, "return redis.call('hset', KEYS[1], 'f1', 'v1', 'f2', 2)", "1", "h"]),
    (0, &[E, "return {redis.call('hget', 'h', 'f1'), redis.call('hincrby', 'h', 'f2', 5), redis.call('hlen', 'h'), redis.call('hexists', 'h', 'zz'), redis.call('hmget', 'h', 'f1', 'zz')}", "0"]),
    (0, &[E, "return redis.call('hgetall', 'h')", "0"]),
    (1, &[E, "return redis.call('hgetall', 'h')", "0"]),
    (0, &[E, "redis.setresp(3); local r = redis.call('hgetall', 'h'); return {r.map.f1, r.map.f2}", "0"]),
    (1, &[E, "redis.setresp(3); return redis.call('hgetall', 'h')", "0"]),
    (0, &[E, "redis.setresp(3); return redis.call('hgetall', 'h')", "0"]),
    (0, &[E, "return {redis.call('hkeys', 'h'), redis.call('hvals', 'h'), redis.call('hstrlen', 'h', 'f1'), redis.call('hdel', 'h', 'f1', 'no')}", "0"]),
    (0, &[E, "return redis.call('hincrbyfloat', 'h', 'f2', '0.25')", "0"]),
    // Lists.
    (0, &[E, "redis.call('rpush', 'l', 'a', 'b', 'c'); redis.call('lpush', 'l', 'z'); return redis.call('lrange', 'l', 0, -1)", "0"]),
    (0, &[E, "return {redis.call('llen', 'l'), redis.call('lindex', 'l', 1), redis.call('lpos', 'l', 'c'), redis.call('lset', 'l', 0, 'Z'), redis.call('linsert', 'l', 'before', 'b', 'ab')}", "0"]),
    (0, &[E, "return {redis.call('lpop', 'l'), redis.call('rpop', 'l', 2), redis.call('lrem', 'l', 0, 'a'), redis.call('ltrim', 'l', 0, 0), redis.call('lrange', 'l', 0, -1)}", "0"]),
    (0, &[E, "return redis.call('lpop', 'nolist')", "0"]),
    (1, &[E, "return redis.call('lpop', 'nolist')", "0"]),
    (1, &[E, "redis.setresp(3); return redis.call('lpop', 'nolist')", "0"]),
    (0, &[E, "redis.setresp(3); return redis.call('lpop', 'nolist') == nil", "0"]),
    (0, &[E, "return redis.call('lpush', 's', 'x')", "0"]),
    // Lua -> RESP conversions.
    (0, &[E, "return {1, 2.9, -3.5, 'x', true, false, nil, 'after nil'}", "0"]),
    (1, &[E, "return {1, 2.9, -3.5, 'x', true, false}", "0"]),
    (1, &[E, "redis.setresp(3); return {true, false}", "0"]),
    (0, &[E, "redis.setresp(3); return {true, false}", "0"]),
    (0, &[E, "return {{1, {2, {3}}}, {}}", "0"]),
    (0, &[E, "return redis.status_reply('FINE')", "0"]),
    (0, &[E, "return {ok='multi\\r\\nline'}", "0"]),
    (0, &[E, "return redis.error_reply('MY custom error')", "0"]),
    (0, &[E, "return redis.error_reply('-X y')", "0"]),
    (0, &[E, "return {err='plain'}", "0"]),
    (0, &[E, "return {1, redis.error_reply('inner'), 3}", "0"]),
    (0, &[E, "return {double=3.25}", "0"]),
    (1, &[E, "return {double=3.25}", "0"]),
    (1, &[E, "return {big_number='123456789012345678901234567890'}", "0"]),
    (0, &[E, "return {big_number='12345678901234567890'}", "0"]),
    (1, &[E, "return {verbatim_string={format='txt', string='hello'}}", "0"]),
    (0, &[E, "return {verbatim_string={format='txt', string='hello'}}", "0"]),
    (1, &[E, "return {map={a=1}}", "0"]),
    (0, &[E, "return {map={a=1}}", "0"]),
    (1, &[E, "return {set={x=true}}", "0"]),
    (0, &[E, "return {set={x=true}}", "0"]),
    (0, &[E, "return 1e300", "0"]),
    (0, &[E, "return -0.9", "0"]),
    (0, &[E, "return tostring(12345678901234567890)", "0"]),
    (0, &[E, "return redis.call('set', 'num', 3.0000000000000004)", "0"]),
    (0, &[E, "return redis.call('get', 'num')", "0"]),
    (0, &[E, "return redis.call('set', 'num', 1e20)", "0"]),
    (0, &[E, "return redis.call('get', 'num')", "0"]),
    // Argument and call errors.
    (0, &[E, "return redis.call()", "0"]),
    (0, &[E, "return redis.call('get', {})", "0"]),
    (0, &[E, "return redis.pcall('get', true)", "0"]),
    (0, &[E, "return redis.call('nosuchcommand')", "0"]),
    (0, &[E, "return redis.call('get')", "0"]),
    (0, &[E, "return redis.call('config', 'nosuch')", "0"]),
    (0, &[E, "return redis.call('multi')", "0"]),
    (0, &[E, "return redis.call('eval', 'return 1', 0)", "0"]),
    (0, &["EVAL_RO", "return redis.call('set', 'x', 1)", "0"]),
    (0, &["EVAL_RO", "return redis.call('get', 's')", "0"]),
    (0, &[E, "#!lua flags=no-writes\nreturn redis.call('set', 'x', 1)", "0"]),
    (0, &["EVAL_RO", "#!lua\nreturn 1", "0"]),
    (0, &["EVAL_RO", "#!lua flags=no-writes\nreturn 2", "0"]),
    (0, &[E, "#!lua flags=bogus\nreturn 1", "0"]),
    (0, &[E, "#!python\nreturn 1", "0"]),
    (0, &[E, "#!lua\nreturn redis.call('nosuch')", "0"]),
    (0, &[E, "return 1", "2", "a"]),
    (0, &[E, "return 1", "-1"]),
    (0, &[E, "return 1", "x"]),
    (0, &[E, "return 1"]),
    (0, &[E, "local t = redis.call('time'); return #t", "0"]),
    // Lua errors and the sandbox.
    (0, &[E, "return 1 +", "0"]),
    (0, &[E, "error('boom')", "0"]),
    (0, &[E, "error({err='CUSTOM code'})", "0"]),
    (0, &[E, "error(42)", "0"]),
    (0, &[E, "\n\nlocal x = nil; return x.y", "0"]),
    (0, &[E, "a = 1", "0"]),
    (0, &[E, "return undefined_global", "0"]),
    (0, &[E, "return os.time()", "0"]),
    (0, &[E, "return io", "0"]),
    (0, &[E, "print('x')", "0"]),
    (0, &[E, "dofile('/etc/passwd')", "0"]),
    (0, &[E, "loadfile('/etc/passwd')", "0"]),
    (0, &[E, "return require", "0"]),
    (0, &[E, "return debug", "0"]),
    (0, &[E, "redis.call = function() end", "0"]),
    (0, &[E, "string.foo = 1", "0"]),
    (0, &[E, "cjson.encode = 1", "0"]),
    (0, &[E, "bit.band = 1", "0"]),
    (0, &[E, "cmsgpack.pack = 1", "0"]),
    (0, &[E, "setmetatable(_G, {})", "0"]),
    (0, &[E, "local g = getmetatable(_G); g.__index = {}", "0"]),
    (0, &[E, "_G = {}", "0"]),
    (0, &[E, "return loadstring(string.dump(function() return 1 end))()", "0"]),
    (0, &[E, "return loadstring('return 1 + 1')()", "0"]),
    (0, &[E, "local t = {}; t.x = 5; return t.x", "0"]),
    (0, &[E, "return {pcall(error, 'e')}", "0"]),
    (0, &[E, "local ok, e = pcall(function() redis.call('incr', 's') end); return {tostring(ok), e}", "0"]),
    (0, &[E, "local ok, e = pcall(function() return redis.call('get', 's') end); return {tostring(ok), e}", "0"]),
    (0, &[E, "return redis.sha1hex('')", "0"]),
    (0, &[E, "return redis.sha1hex()", "0"]),
    (0, &[E, "redis.setresp(4)", "0"]),
    (0, &[E, "redis.log(redis.LOG_WARNING, 'from a test')", "0"]),
    (0, &[E, "redis.log(10, 'x')", "0"]),
    (0, &[E, "redis.log('x')", "0"]),
    (0, &[E, "return {redis.LOG_DEBUG, redis.LOG_VERBOSE, redis.LOG_NOTICE, redis.LOG_WARNING}", "0"]),
    (0, &[E, "return type(redis.REDIS_VERSION)", "0"]),
    (0, &[E, "return {math.floor(2.5), string.rep('ab', 3), table.concat({1, 2}, '-'), string.format('%5.2f', 3.14159)}", "0"]),
    (0, &[E, "return {unpack({1, 2, 3})}", "0"]),
    (0, &[E, "return {select('#', 1, 2, 3), tonumber('0x10'), type(coroutine.create(function() end))}", "0"]),
    // cjson.
    (0, &[E, "return cjson.encode({1, 2, 3, {a = {b = 'c/d'}}})", "0"]),
    (0, &[E, "return cjson.encode({})", "0"]),
    (0, &[E, "return cjson.encode('quote\" back\\\\ nl\\n tab\\t ctl\\1')", "0"]),
    (0, &[E, "return cjson.encode({0.1, 1e20, -5, 1/3, 123456789012345})", "0"]),
    (0, &[E, "return cjson.encode({[1] = 1, [5] = 5})", "0"]),
    (0, &[E, "return cjson.encode({[1] = 1, [20] = 5})", "0"]),
    (0, &[E, "return cjson.encode(cjson.null)", "0"]),
    (0, &[E, "return cjson.encode(function() end)", "0"]),
    (0, &[E, "return cjson.encode(1/0)", "0"]),
    (0, &[E, "local t = cjson.decode('{\"a\":[1,2,{\"b\":null}],\"c\":\"\\\\u00e9\\\\n\"}'); return {t.a[2], t.a[3].b == cjson.null, t.c}", "0"]),
    (0, &[E, "return cjson.decode('[1, 2.5, -3e2, true, false]')", "0"]),
    (0, &[E, "return cjson.decode('{')", "0"]),
    (0, &[E, "return cjson.decode('[1,]')", "0"]),
    (0, &[E, "return cjson.decode('{\"a\" 1}')", "0"]),
    (0, &[E, "return cjson.decode('x')", "0"]),
    (0, &[E, "return cjson.decode('')", "0"]),
    (0, &[E, "return cjson.decode('[1] x')", "0"]),
    (0, &[E, "cjson.encode_max_depth(1); local ok = pcall(cjson.encode, {{1}}); cjson.encode_max_depth(1000); return tostring(ok)", "0"]),
    (0, &[E, "cjson.decode_max_depth(1); local ok = pcall(cjson.decode, '[[1]]'); cjson.decode_max_depth(1000); return tostring(ok)", "0"]),
    (0, &[E, "local a = cjson.encode_invalid_numbers('null'); local s = cjson.encode({0/0}); cjson.encode_invalid_numbers(false); return {a, s}", "0"]),
    (0, &[E, "return {cjson.encode_max_depth(), cjson.encode_number_precision(), tostring(cjson.encode_keep_buffer())}", "0"]),
    // Large values cross the Lua/Rust boundary without holding every item at once.
    (0, &[E, "local t = {}; for i = 1, 20000 do t[i] = i end; return t", "0"]),
    (1, &[E, "local m = {}; for i = 1, 10000 do m['k' .. i] = i end; return #cmsgpack.pack(m)", "0"]),
    (0, &[E, "local t = {}; for i = 1, 10000 do t['k' .. i] = i end; return #cjson.encode(t)", "0"]),
    // bit.
    (0, &[E, "return {bit.band(0xff, 0x0f), bit.bor(1, 2, 4), bit.bxor(5, 3), bit.bnot(0), bit.lshift(1, 31), bit.rshift(-1, 28), bit.arshift(-16, 2)}", "0"]),
    (0, &[E, "return {bit.tobit(0xffffffff), bit.tobit(2^32 + 7), bit.rol(0x12345678, 8), bit.ror(0x12345678, 8), bit.bswap(0x12345678)}", "0"]),
    (0, &[E, "return {bit.tohex(255), bit.tohex(-1), bit.tohex(255, 2), bit.tohex(255, -4)}", "0"]),
    (0, &[E, "return bit.band('x')", "0"]),
    // cmsgpack.
    (0, &[E, "return cmsgpack.pack({1, 2, 3}, 'abc', true, false, 0.5, -1, 300, -300, 70000, 2^40, 1.1)", "0"]),
    (0, &[E, "return cmsgpack.pack({a = 1})", "0"]),
    (0, &[E, "return cmsgpack.pack(string.rep('x', 40), string.rep('y', 300))", "0"]),
    (0, &[E, "return {cmsgpack.unpack(cmsgpack.pack({1, {2, 3}}, 'z', -7, 1.5))}", "0"]),
    (0, &[E, "local t = cmsgpack.unpack(cmsgpack.pack({k = 'v'})); return t.k", "0"]),
    (0, &[E, "local s = cmsgpack.pack(1, 'a', {2}); local o, v = cmsgpack.unpack_one(s); local o2, v2 = cmsgpack.unpack_one(s, o); return {o, v, o2, v2}", "0"]),
    (0, &[E, "local s = cmsgpack.pack(1, 2, 3); return {cmsgpack.unpack_limit(s, 2)}", "0"]),
    (0, &[E, "local s = cmsgpack.pack(1, 2, 3); return {cmsgpack.unpack_limit(s, 5, 1)}", "0"]),
    (0, &[E, "return cmsgpack.unpack_one('abc', 10)", "0"]),
    // struct.
    (0, &[E, "return struct.pack('>I2i4Bb', 500, -7, 255, -1)", "0"]),
    (0, &[E, "return {struct.unpack('>I2i4', struct.pack('>I2i4', 500, -7))}", "0"]),
    (0, &[E, "return {struct.unpack('<hHs', struct.pack('<hHs', -2, 65535, 'str'))}", "0"]),
    (0, &[E, "return {struct.size('>iI2b'), struct.size('!4bi')}", "0"]),
    (0, &[E, "return struct.pack('c3', 'abcdef')", "0"]),
    // math.random is Redis's deterministic generator.
    (0, &[E, "return {math.random(1000000), math.random(1000000), math.random(10, 20)}", "0"]),
    (0, &[E, "math.randomseed(42); return {math.random(1000000), math.random(1000000)}", "0"]),
    (0, &[E, "math.randomseed(ARGV[1]); return math.random(1000)", "0", "7"]),
    // EVALSHA and SCRIPT.
    (0, &["SCRIPT", "LOAD", "return {KEYS[1], ARGV[1]}"]),
    (0, &["EVALSHA", "d006f1a90249474274c76f5be725b8f5804a346b", "1", "key", "arg"]),
    (0, &["EVALSHA", "short", "0"]),
    (0, &["EVALSHA", "ffffffffffffffffffffffffffffffffffffffff", "0"]),
    (0, &["EVALSHA_RO", "d006f1a90249474274c76f5be725b8f5804a346b", "0"]),
    (0, &["SCRIPT", "EXISTS", "d006f1a90249474274c76f5be725b8f5804a346b", "ffffffffffffffffffffffffffffffffffffffff"]),
    (0, &["SCRIPT", "LOAD", "return 'loaded'"]),
    (0, &["EVALSHA", "b534286061d4b9e4026607613b95c06c06015ae8", "0"]),
    (0, &["SCRIPT", "LOAD", "return 1 +"]),
    (0, &["SCRIPT", "FLUSH", "SYNC"]),
    (0, &["SCRIPT", "EXISTS", "d006f1a90249474274c76f5be725b8f5804a346b"]),
    (0, &["SCRIPT", "FLUSH", "bad"]),
    (0, &["SCRIPT", "KILL"]),
    (0, &["SCRIPT", "NOSUCH"]),
    (0, &["SCRIPT"]),
    // FUNCTION and FCALL.
    (0, &["FUNCTION", "LOAD", "#!lua name=lib1\nredis.register_function('getk', function(keys, args) return redis.call('get', keys[1]) end)"]),
    (0, &["FUNCTION", "LOAD", "#!lua name=lib1\nredis.register_function('getk', function() end)"]),
    (0, &["FUNCTION", "LOAD", "#!lua name=lib2\nredis.register_function{function_name='echo', callback=function(keys, args) return {keys, args} end, flags={'no-writes'}, description='echoes'}"]),
    (0, &["FCALL", "getk", "1", "s"]),
    (0, &["FCALL", "GETK", "1", "s"]),
    (1, &["FCALL", "echo", "2", "k1", "k2", "a1"]),
    (0, &["FCALL_RO", "echo", "0", "x"]),
    (0, &["FCALL_RO", "getk", "1", "s"]),
    (0, &["FCALL", "nosuch", "0"]),
    (0, &["FCALL", "getk", "x"]),
    (0, &["FCALL", "getk", "5"]),
    (0, &["FUNCTION", "LIST", "LIBRARYNAME", "lib2"]),
    (1, &["FUNCTION", "LIST", "LIBRARYNAME", "lib1", "WITHCODE"]),
    (0, &["FUNCTION", "LIST", "bogus"]),
    (0, &["FUNCTION", "STATS"]),
    (0, &["FUNCTION", "LOAD", "#!lua name=lib3\nredis.register_function('w', function() return redis.call('set', 'fw', 1) end)"]),
    (0, &["FUNCTION", "LOAD", "#!lua name=lib4\nredis.register_function('ro', function() return redis.call('set', 'fw', 1) end) redis.register_function{function_name='ro2', callback=function() return redis.call('set', 'fw', 1) end, flags={'no-writes'}}"]),
    (0, &["FCALL", "w", "0"]),
    (0, &["FCALL", "ro2", "0"]),
    (0, &["FCALL_RO", "w", "0"]),
    (0, &["FUNCTION", "LOAD", "#!lua name=bad\nerror('at load')"]),
    (0, &["FUNCTION", "LOAD", "#!lua name=bad\nredis.call('get', 'x')"]),
    (0, &["FUNCTION", "LOAD", "#!lua name=bad\nreturn 1"]),
    (0, &["FUNCTION", "LOAD", "#!lua name=bad\nredis.register_function('getk', function() end)"]),
    (0, &["FUNCTION", "LOAD", "#!lua name=bad\nredis.register_function('x', function() end) redis.register_function('x', function() end)"]),
    (0, &["FUNCTION", "LOAD", "#!lua name=bad\nredis.register_function('x-y', function() end)"]),
    (0, &["FUNCTION", "LOAD", "#!lua name=bad\nredis.register_function{function_name='x', callback=function() end, flags={'bogus'}}"]),
    (0, &["FUNCTION", "LOAD", "#!lua name=bad\nredis.register_function('x')"]),
    (0, &["FUNCTION", "LOAD", "#!lua name=bad\nlocal x = "]),
    (0, &["FUNCTION", "LOAD", "#!lua name=b-d\n"]),
    (0, &["FUNCTION", "LOAD", "#!lua name=slow\nlocal a = 1 while 1 do a = a + 1 end"]),
    (0, &[E, "return 'the VM is usable after a load timeout'", "0"]),
    (0, &["FUNCTION", "LOAD", "#!js name=x\n"]),
    (0, &["FUNCTION", "LOAD", "#!lua\n"]),
    (0, &["FUNCTION", "LOAD", "#!lua foo=bar\n"]),
    (0, &["FUNCTION", "LOAD", "return 1"]),
    (0, &["FUNCTION", "LOAD", "BOGUS", "#!lua name=x\n"]),
    (0, &["FUNCTION", "LOAD", "REPLACE", "#!lua name=lib1\nredis.register_function('getk2', function(keys) return redis.call('strlen', keys[1]) end)"]),
    (0, &["FCALL", "getk", "1", "s"]),
    (0, &["FCALL", "getk2", "1", "s"]),
    (0, &["FUNCTION", "DELETE", "lib1"]),
    (0, &["FUNCTION", "DELETE", "lib1"]),
    (0, &["FCALL", "getk2", "1", "s"]),
    (0, &["FUNCTION", "RESTORE", "not a payload"]),
    (0, &["FUNCTION", "RESTORE", "x", "BADPOLICY"]),
    (0, &["FUNCTION", "KILL"]),
    (0, &["FUNCTION", "RESTORE", "a", "b", "c"]),
    (0, &["FUNCTION", "FLUSH", "a", "b"]),
    (0, &["FUNCTION", "LOAD", "#!lua name=\"quoted\"\nlocal r = redis\nredis.register_function('later', function() return r.register_function('x', function() end) end)"]),
    (0, &["FCALL", "later", "0"]),
    (0, &["FUNCTION", "FLUSH", "bad"]),
    (0, &["FUNCTION", "FLUSH", "ASYNC"]),
    (0, &["FUNCTION", "STATS"]),
    (1, &["FUNCTION", "STATS"]),
    (0, &["FUNCTION", "LIST"]),
];

fn run(conns: &mut [Conn; 2]) -> Vec<Vec<u8>> {
    // Client 1 speaks RESP3 (HELLO's reply names the client id, which differs).
    let hello: Vec<Vec<u8>> = vec![b"HELLO".to_vec(), b"3".to_vec()];
    conns[1].call(&hello).expect("HELLO 3");
    SCRIPT
        .iter()
        .map(|(who, cmd)| {
            let args: Vec<Vec<u8>> = cmd.iter().map(|a| a.as_bytes().to_vec()).collect();
            match conns[*who].call(&args) {
                Ok(r) => r.raw,
                Err(e) => format!("connection error: {e}").into_bytes(),
            }
        })
        .collect()
}

fn addr(server: &Server) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], server.port()))
}

#[test]
fn scripts_and_functions_answer_exactly_as_redis() {
    let redis = RedisServer::start();
    let server = Server::start(&[]);
    let mut r = [
        Conn::connect(redis.addr, "redis"),
        Conn::connect(redis.addr, "redis"),
    ];
    let mut m = [
        Conn::connect(addr(&server), "mapcache"),
        Conn::connect(addr(&server), "mapcache"),
    ];
    let want = run(&mut r);
    let got = run(&mut m);
    let mut mismatches = Vec::new();
    for (i, (w, g)) in want.iter().zip(&got).enumerate() {
        if w != g {
            mismatches.push(format!(
                "step {i} {:?}\n  redis:    {:?}\n  mapcache: {:?}",
                SCRIPT[i],
                String::from_utf8_lossy(w),
                String::from_utf8_lossy(g)
            ));
        }
    }
    assert!(
        mismatches.is_empty(),
        "{} mismatches:\n{}",
        mismatches.len(),
        mismatches.join("\n")
    );
}

/// `FUNCTION DUMP` → `FUNCTION RESTORE` round-trips on mapcache (the payload is
/// mapcache's own, see docs/commands.md).
#[test]
fn function_dump_restores() {
    let server = Server::start(&[]);
    let mut c = Conn::connect(addr(&server), "mapcache");
    let lib = b"#!lua name=dumped\nredis.register_function('twice', function(k, a) return a[1] .. a[1] end)";
    c.call_strs(&[b"FUNCTION", b"LOAD", lib]).unwrap();
    let Frame::Bulk(payload) = c.call_strs(&[b"FUNCTION", b"DUMP"]).unwrap() else {
        panic!("DUMP answers a bulk string");
    };
    c.call_strs(&[b"FUNCTION", b"FLUSH"]).unwrap();
    assert_eq!(
        c.call_strs(&[b"FCALL", b"twice", b"0", b"ab"]).unwrap(),
        Frame::Error("ERR Function not found".into())
    );
    assert_eq!(
        c.call_strs(&[b"FUNCTION", b"RESTORE", &payload]).unwrap(),
        Frame::Simple("OK".into())
    );
    assert_eq!(
        c.call_strs(&[b"FCALL", b"twice", b"0", b"ab"]).unwrap(),
        Frame::Bulk("abab".into())
    );
    // APPEND (the default) refuses a library that exists; REPLACE takes it.
    assert_eq!(
        c.call_strs(&[b"FUNCTION", b"RESTORE", &payload]).unwrap(),
        Frame::Error("ERR Library dumped already exists".into())
    );
    assert_eq!(
        c.call_strs(&[b"FUNCTION", b"RESTORE", &payload, b"REPLACE"])
            .unwrap(),
        Frame::Simple("OK".into())
    );
    let mut bad = payload.to_vec();
    let last = bad.len() - 1;
    bad[last] ^= 0xff;
    assert_eq!(
        c.call_strs(&[b"FUNCTION", b"RESTORE", &bad]).unwrap(),
        Frame::Error("ERR DUMP payload version or checksum are wrong".into())
    );
}

/// One server's transcript of the BUSY scenario: an endless script, another client
/// refused with BUSY, SCRIPT KILL; then a script that wrote, UNKILLABLE, its end.
fn busy_transcript(addr: SocketAddr, who: &'static str) -> Vec<String> {
    let mut admin = Conn::connect(addr, who);
    let mut log = Vec::new();
    let mut say = |f: Frame| log.push(format!("{f:?}"));
    say(admin
        .call_strs(&[b"CONFIG", b"SET", b"lua-time-limit", b"100"])
        .unwrap());
    let mut runner = Conn::connect(addr, who);
    runner
        .send(&[
            b"EVAL".to_vec(),
            b"while true do end".to_vec(),
            b"0".to_vec(),
        ])
        .unwrap();
    // Past the limit, other clients are answered BUSY (not left waiting).
    std::thread::sleep(Duration::from_millis(400));
    let started = Instant::now();
    say(admin.call_strs(&[b"GET", b"x"]).unwrap());
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{who}: BUSY came at once"
    );
    say(admin.call_strs(&[b"PING"]).unwrap());
    say(admin.call_strs(&[b"FUNCTION", b"KILL"]).unwrap());
    say(admin.call_strs(&[b"SCRIPT", b"KILL"]).unwrap());
    say(runner.read().map(|r| r.frame).unwrap());
    say(admin.call_strs(&[b"SCRIPT", b"KILL"]).unwrap());
    say(admin.call_strs(&[b"PING"]).unwrap());
    // A script that has written cannot be killed; it runs to its end.
    let writer = b"redis.call('set', 'w', 1); local t = redis.call('time'); local s = t[1] * 1000000 + t[2]; while true do local n = redis.call('time'); if (n[1] * 1000000 + n[2]) - s > 1500000 then break end end; return 'finished'";
    runner
        .send(&[b"EVAL".to_vec(), writer.to_vec(), b"0".to_vec()])
        .unwrap();
    std::thread::sleep(Duration::from_millis(500));
    say(admin.call_strs(&[b"SET", b"x", b"1"]).unwrap());
    say(admin.call_strs(&[b"SCRIPT", b"KILL"]).unwrap());
    say(runner.read().map(|r| r.frame).unwrap());
    say(admin.call_strs(&[b"GET", b"w"]).unwrap());
    say(admin
        .call_strs(&[b"CONFIG", b"SET", b"lua-time-limit", b"5000"])
        .unwrap());
    log
}

#[test]
fn busy_script_kill_and_unkillable_as_redis() {
    let redis = RedisServer::start();
    let server = Server::start(&[]);
    let want = busy_transcript(redis.addr, "redis");
    let got = busy_transcript(addr(&server), "mapcache");
    assert_eq!(got, want);
    assert!(
        want[1].contains("BUSY Redis is busy running a script"),
        "{want:?}"
    );
}

/// A script's reads and writes are not interleaved with another client's writes.
#[test]
fn scripts_are_atomic_under_concurrent_writers() {
    let server = Server::start(&[]);
    let a = addr(&server);
    let stop = std::sync::atomic::AtomicBool::new(false);
    std::thread::scope(|s| {
        s.spawn(|| {
            let mut c = Conn::connect(a, "writer");
            let mut n = 0u64;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) && n < 200_000 {
                let v = n.to_string().into_bytes();
                let _ = c.call(&[b"MSET".to_vec(), b"x".to_vec(), v.clone(), b"y".to_vec(), v]);
                n += 1;
            }
        });
        let mut c = Conn::connect(a, "script");
        // Reads x, spins, reads y, writes both: another client's MSET in between would
        // show as x ~= y or be lost in the SET.
        let script = b"local x = redis.call('get', 'x'); for i = 1, 2000 do end; local y = redis.call('get', 'y'); redis.call('mset', 'x', 'mine', 'y', 'mine'); local x2 = redis.call('get', 'x'); local y2 = redis.call('get', 'y'); return {x or '', y or '', x2, y2}";
        for _ in 0..1000 {
            let r = c.call_strs(&[b"EVAL", script, b"0"]).unwrap();
            let Frame::Array(items) = r else {
                panic!("EVAL answered {r:?}");
            };
            assert_eq!(items[0], items[1], "x and y read at one instant");
            assert_eq!(items[2], Frame::Bulk("mine".into()));
            assert_eq!(items[3], Frame::Bulk("mine".into()));
        }
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
    });
}

/// Over HTTP too: a script past its time limit makes the JSON API answer 503 with
/// RESP's BUSY text (the script holds the whole store), until SCRIPT KILL.
#[test]
fn http_api_answers_busy_while_a_script_runs_too_long() {
    let server = Server::start(&[]);
    let mut admin = Conn::connect(addr(&server), "admin");
    admin
        .call_strs(&[b"CONFIG", b"SET", b"lua-time-limit", b"100"])
        .unwrap();
    let (status, _) = support::http_get(server.http, "/api/v1/caches");
    assert_eq!(status, 200);
    let mut runner = Conn::connect(addr(&server), "runner");
    runner
        .send(&[
            b"EVAL".to_vec(),
            b"while true do end".to_vec(),
            b"0".to_vec(),
        ])
        .unwrap();
    std::thread::sleep(Duration::from_millis(300));
    let (status, body) = support::http_get(server.http, "/api/v1/caches");
    assert_eq!(status, 503, "{body}");
    assert!(
        body.contains("BUSY Redis is busy running a script"),
        "{body}"
    );
    assert_eq!(
        admin.call_strs(&[b"SCRIPT", b"KILL"]).unwrap(),
        Frame::Simple("OK".into())
    );
    assert!(matches!(runner.read().unwrap().frame, Frame::Error(_)));
    let (status, _) = support::http_get(server.http, "/api/v1/caches");
    assert_eq!(status, 200);
}
