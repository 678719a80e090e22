//! Redis's script environment on a stock Lua 5.1: read-only globals and libraries.
//!
//! Redis 7.0 patches its Lua with read-only tables; mlua's vendored Lua has none, so
//! the same behaviour is built from metatables. Scripts see the globals through an
//! empty proxy whose metatable reads from the real table and refuses writes with
//! Redis's text (`Attempt to modify a readonly table`); reading a global that does not
//! exist raises `Script attempted to access nonexistent global variable 'x'`. The
//! libraries (`redis`, `cjson`, `bit`, `cmsgpack`, `struct`, `string`, `math`,
//! `table`, `coroutine`) are proxied the same way, and `setmetatable`, `rawset`,
//! `getmetatable`, `loadstring` and `load` are wrapped so that they cannot reach
//! around a proxy or load bytecode. `os`, `io`, `debug`, `print`, `dofile`, `loadfile`,
//! `require` and `module` do not exist.
//!
//! The Redis API is Rust functions called directly (a Lua wrapper would replace the
//! script's frame in a tail call, `return redis.call(...)`, and lose its line). The
//! few wrappers written in Lua live in a chunk named `=mapcache`; the error handler
//! skips their frames so that an error reports the script's own line, as Redis does.

/// The prelude, run once per VM with the real globals table and the table of Rust
/// functions (`raw`, with the real `redis` table in `raw.redis`). Returns the proxy
/// the scripts run in, `invoke(f, handler, ...)`, which calls `f(...)` under
/// `xpcall`, and for FUNCTION libraries their environment, `set_loading(on)` that
/// switches it between the load API and the globals, and the load API's `redis`
/// table (where FUNCTION LOAD puts `register_function`).
pub(crate) const PRELUDE: &str = r#"
local G, raw = ...
local error, type, tostring, select, unpack = error, type, tostring, select, unpack
local setmetatable_, rawset_, getmetatable_ = setmetatable, rawset, getmetatable
local loadstring_, load_, setfenv_, xpcall_ = loadstring, load, setfenv, xpcall
local protected = setmetatable_({}, {__mode = 'k'})

local function deny()
  error('Attempt to modify a readonly table', 2)
end

local function readonly(t)
  local mt_view = setmetatable_({}, {__newindex = deny, __metatable = false})
  protected[mt_view] = true
  local p = setmetatable_({}, {__index = t, __newindex = deny, __metatable = mt_view})
  protected[p] = true
  return p
end

-- The Redis API: Rust functions (redis.call, redis.pcall and redis.setresp are put in
-- the real table for each run, bound to the caller's connection).
local redis = raw.redis
redis.setresp = nil
redis.log = raw.log
redis.sha1hex = raw.sha1hex
redis.error_reply = raw.error_reply
redis.status_reply = raw.status_reply
redis.set_repl = raw.set_repl
redis.replicate_commands = function() return true end
redis.breakpoint = function() return false end
redis.debug = function() end
redis.acl_check_cmd = raw.acl_check_cmd
redis.LOG_DEBUG, redis.LOG_VERBOSE, redis.LOG_NOTICE, redis.LOG_WARNING = 0, 1, 2, 3
redis.REPL_NONE, redis.REPL_AOF, redis.REPL_SLAVE, redis.REPL_REPLICA, redis.REPL_ALL = 0, 1, 2, 2, 3
redis.REDIS_VERSION = raw.version
redis.REDIS_VERSION_NUM = raw.version_num

local math_ = {}
for k, v in pairs(math) do math_[k] = v end
math_.random = raw.random
math_.randomseed = raw.randomseed

G.redis = readonly(redis)
G.math = readonly(math_)
G.string = readonly(string)
G.table = readonly(table)
G.coroutine = readonly(coroutine)
G.cjson = readonly(raw.cjson)
G.bit = readonly(raw.bit)
G.cmsgpack = readonly(raw.cmsgpack)
G.struct = readonly(raw.struct)

G.setmetatable = function(t, m)
  if protected[t] then error('Attempt to modify a readonly table', 0) end
  return setmetatable_(t, m)
end
G.rawset = function(t, k, v)
  if protected[t] then error('Attempt to modify a readonly table', 0) end
  return rawset_(t, k, v)
end

local env = readonly(G)
G._G = env

local function bind(f, e)
  if f then setfenv_(f, env) end
  return f, e
end
G.loadstring = function(s, name)
  if type(s) == 'string' and s:byte(1) == 27 then
    return nil, 'attempt to load a binary chunk'
  end
  return bind(loadstring_(s, name))
end
G.load = function(f, name)
  return bind(load_(f, name))
end
-- Redis 7's pcall: an error table (from redis.call) is caught as its message.
local pcall_ = pcall
G.pcall = function(...)
  local r = {n = 0}
  local function keep(...)
    r.n = select('#', ...)
    for i = 1, r.n do r[i] = (select(i, ...)) end
  end
  keep(pcall_(...))
  if r[1] == false and type(r[2]) == 'table' and type(r[2].err) == 'string' then
    return false, r[2].err
  end
  if r[1] == false and type(r[2]) == 'userdata' then
    return false, raw.error_text(r[2])
  end
  return unpack(r, 1, r.n)
end

for _, name in ipairs({'print', 'dofile', 'loadfile', 'require', 'module', 'package', 'os', 'io', 'debug'}) do
  G[name] = nil
end
setmetatable_(G, {
  __index = function(_, k)
    error("Script attempted to access nonexistent global variable '" .. tostring(k) .. "'", 2)
  end,
  __newindex = deny,
  __metatable = false,
})

-- FUNCTION libraries run in an environment of their own whose globals are, while a
-- library loads, only the load API (redis.register_function, redis.log, the log
-- levels and versions), and afterwards the ordinary globals (Redis 7.0's
-- luaEngineCreate switches the same way).
local function missing(_, k)
  error("Script attempted to access nonexistent global variable '" .. tostring(k) .. "'", 2)
end
local load_redis = {
  log = raw.log,
  LOG_DEBUG = 0, LOG_VERBOSE = 1, LOG_NOTICE = 2, LOG_WARNING = 3,
  REDIS_VERSION = raw.version, REDIS_VERSION_NUM = raw.version_num,
}
setmetatable_(load_redis, {__index = missing, __newindex = deny, __metatable = false})
local load_G = {redis = setmetatable_({}, {__index = load_redis, __newindex = deny, __metatable = false})}
setmetatable_(load_G, {__index = missing, __newindex = deny, __metatable = false})
local fmeta = {__index = G, __newindex = deny, __metatable = false}
local fenv = setmetatable_({}, fmeta)
protected[fenv] = true
local function set_loading(on)
  if on then fmeta.__index = load_G else fmeta.__index = G end
end

local function invoke(f, handler, ...)
  local n = select('#', ...)
  if n == 0 then
    return xpcall_(f, handler)
  end
  local args = {...}
  return xpcall_(function() return f(unpack(args, 1, n)) end, handler)
end

return env, invoke, fenv, set_loading, load_redis
"#;
