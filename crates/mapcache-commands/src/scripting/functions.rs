//! FUNCTION libraries: `#!lua name=lib` code registering functions with
//! `redis.register_function`, kept by library name, loaded as Redis 7.0's
//! `functionsCreateWithLibraryCtx` loads them (same checks, same error texts), and
//! the FUNCTION DUMP payload.
//!
//! The DUMP payload is mapcache's own, not Redis's RDB serialisation: the libraries'
//! code, each behind a `0xF5` marker and a 4-byte big-endian length, then a 2-byte
//! version (1) and an 8-byte checksum (the first 8 bytes of the SHA-1 of everything
//! before it). FUNCTION RESTORE reads it back; a payload from Redis is refused with
//! Redis's `DUMP payload version or checksum are wrong`.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use bytes::Bytes;
use mlua::{Function, Value, Variadic};

use super::engine::{raise, Engine};
use super::{ScriptFlags, FLAG_NAMES};
use crate::error::CmdError;

/// One registered function.
#[derive(Debug, Clone)]
pub struct Func {
    pub name: String,
    pub description: Option<Bytes>,
    pub flags: ScriptFlags,
    pub(crate) func: Function,
}

/// One library: its code and functions.
#[derive(Debug, Clone)]
pub struct Library {
    pub name: String,
    pub code: Bytes,
    pub functions: BTreeMap<String, Func>,
}

/// Every loaded library, and which library each function belongs to. Function names
/// are case-insensitive, as in Redis: maps of functions are keyed by the lowercase name.
#[derive(Debug, Default, Clone)]
pub struct Libraries {
    pub libraries: BTreeMap<String, Library>,
    pub functions: BTreeMap<String, String>,
}

impl Libraries {
    pub fn function(&self, name: &str) -> Option<&Func> {
        let key = name.to_ascii_lowercase();
        let lib = self.functions.get(&key)?;
        self.libraries.get(lib)?.functions.get(&key)
    }

    /// Adds `lib` (replacing the library of the same name when `replace`), checking
    /// that none of its functions belongs to another library.
    pub fn link(&mut self, lib: Library, replace: bool) -> Result<(), CmdError> {
        if self.libraries.contains_key(&lib.name) && !replace {
            return Err(CmdError::Owned(format!(
                "ERR Library '{}' already exists",
                lib.name
            )));
        }
        self.link_checked(lib)
    }

    /// FUNCTION RESTORE's merge (Redis's `libraryJoin`: its texts have no quotes).
    pub fn join(&mut self, lib: Library, replace: bool) -> Result<(), CmdError> {
        if self.libraries.contains_key(&lib.name) && !replace {
            return Err(CmdError::Owned(format!(
                "ERR Library {} already exists",
                lib.name
            )));
        }
        self.link_checked(lib)
    }

    fn link_checked(&mut self, lib: Library) -> Result<(), CmdError> {
        for f in lib.functions.keys() {
            if self
                .functions
                .get(f)
                .is_some_and(|owner| *owner != lib.name)
            {
                return Err(CmdError::Owned(format!("ERR Function {f} already exists")));
            }
        }
        self.unlink(&lib.name);
        for f in lib.functions.keys() {
            self.functions.insert(f.clone(), lib.name.clone());
        }
        self.libraries.insert(lib.name.clone(), lib);
        Ok(())
    }

    pub fn unlink(&mut self, name: &str) -> Option<Library> {
        let lib = self.libraries.remove(name)?;
        for f in lib.functions.keys() {
            self.functions.remove(f);
        }
        Some(lib)
    }
}

/// `functionsVerifyName`: letters, digits and `_`, at least one.
fn valid_name(name: &[u8]) -> bool {
    !name.is_empty() && name.iter().all(|c| c.is_ascii_alphanumeric() || *c == b'_')
}

const BAD_NAME: &str = "Library names can only contain letters, numbers, or underscores(_) and must be at least one character long";

/// `functionExtractLibMetaData`: (engine, name, code after the shebang line).
fn metadata(code: &[u8]) -> Result<(String, String, &[u8]), CmdError> {
    if !code.starts_with(b"#!") {
        return Err(CmdError::Static("ERR Missing library metadata"));
    }
    let Some(end) = code.iter().position(|&c| c == b'\n') else {
        return Err(CmdError::Static("ERR Invalid library metadata"));
    };
    let line = String::from_utf8_lossy(&code[..end]).into_owned();
    let parts: Vec<&str> = line.split_ascii_whitespace().collect();
    let Some(first) = parts.first() else {
        return Err(CmdError::Static("ERR Invalid library metadata"));
    };
    let engine = first[2..].to_string();
    let mut name = None;
    for part in &parts[1..] {
        if part.len() >= 5 && part[..5].eq_ignore_ascii_case("name=") {
            if name.is_some() {
                return Err(CmdError::Static(
                    "ERR Invalid metadata value, name argument was given multiple times",
                ));
            }
            // sdssplitargs reads `name="x"` as name=x.
            let v = &part[5..];
            let v = v
                .strip_prefix('"')
                .and_then(|v| v.strip_suffix('"'))
                .unwrap_or(v);
            name = Some(v.to_string());
            continue;
        }
        return Err(CmdError::Owned(format!(
            "ERR Invalid metadata value given: {part}"
        )));
    }
    let Some(name) = name else {
        return Err(CmdError::Static("ERR Library name was not given"));
    };
    Ok((engine, name, &code[end..]))
}

/// Reads `redis.register_function`'s arguments (positional or a table) into a
/// function; errors as Redis raises them.
fn register_args(a: &[Value]) -> mlua::Result<(String, Option<Bytes>, ScriptFlags, Function)> {
    match a.len() {
        2 => {
            let name = match &a[0] {
                Value::String(s) => s.to_string_lossy().to_string(),
                Value::Number(_) | Value::Integer(_) => {
                    return Err(raise(
                        b"first argument to redis.register_function must be a string",
                    ))
                }
                _ => {
                    return Err(raise(
                        b"first argument to redis.register_function must be a string",
                    ))
                }
            };
            let Value::Function(f) = &a[1] else {
                return Err(raise(
                    b"second argument to redis.register_function must be a function",
                ));
            };
            Ok((name, None, 0, f.clone()))
        }
        1 => {
            let Value::Table(t) = &a[0] else {
                return Err(raise(b"calling redis.register_function with a single argument is only applicable to Lua table (representing named arguments)."));
            };
            let (mut name, mut desc, mut flags, mut func) = (None, None, 0, None);
            for pair in t.pairs::<Value, Value>() {
                let (k, v) = pair?;
                let Value::String(k) = k else {
                    return Err(raise(
                        b"named argument key given to redis.register_function is not a string",
                    ));
                };
                let key = k.to_string_lossy().to_ascii_lowercase();
                match key.as_str() {
                    "function_name" => match v {
                        Value::String(s) => name = Some(s.to_string_lossy().to_string()),
                        _ => return Err(raise(b"function_name argument given to redis.register_function must be a string")),
                    },
                    "description" => match v {
                        Value::String(s) => desc = Some(Bytes::copy_from_slice(&s.as_bytes())),
                        _ => return Err(raise(b"description argument given to redis.register_function must be a string")),
                    },
                    "callback" => match v {
                        Value::Function(f) => func = Some(f),
                        _ => return Err(raise(b"callback argument given to redis.register_function must be a function")),
                    },
                    "flags" => {
                        let Value::Table(ft) = v else {
                            return Err(raise(b"flags argument to redis.register_function must be a table representing function flags"));
                        };
                        for item in ft.sequence_values::<Value>() {
                            let Value::String(s) = item? else {
                                return Err(raise(b"unknown flag given"));
                            };
                            let s = s.to_string_lossy();
                            match FLAG_NAMES.iter().find(|(_, n)| **n == *s) {
                                Some((bit, _)) => flags |= bit,
                                None => return Err(raise(b"unknown flag given")),
                            }
                        }
                    }
                    _ => return Err(raise(b"unknown argument given to redis.register_function")),
                }
            }
            let Some(name) = name else {
                return Err(raise(
                    b"redis.register_function must get a function name argument",
                ));
            };
            let Some(func) = func else {
                return Err(raise(
                    b"redis.register_function must get a callback argument",
                ));
            };
            Ok((name, desc, flags, func))
        }
        _ => Err(raise(
            b"wrong number of arguments to redis.register_function",
        )),
    }
}

impl Engine {
    /// Compiles and runs a library's code, collecting what it registers (FUNCTION LOAD
    /// and RESTORE); does not link it. With `refuse_existing`, a library of the same
    /// name there is refused before the code runs (FUNCTION LOAD without REPLACE).
    pub fn create_library(
        &self,
        code: &Bytes,
        refuse_existing: Option<&Libraries>,
    ) -> Result<Library, CmdError> {
        let (engine, name, body) = metadata(code)?;
        if !valid_name(name.as_bytes()) {
            return Err(CmdError::Owned(format!("ERR {BAD_NAME}")));
        }
        if !engine.eq_ignore_ascii_case("lua") {
            return Err(CmdError::Owned(format!("ERR Engine '{engine}' not found")));
        }
        if refuse_existing.is_some_and(|libs| libs.libraries.contains_key(&name)) {
            return Err(CmdError::Owned(format!(
                "ERR Library '{name}' already exists"
            )));
        }
        let chunk = self
            .lua
            .load(body)
            .set_name("@user_function")
            .set_environment(self.fenv.clone())
            .into_function()
            .map_err(|e| {
                CmdError::Owned(format!(
                    "ERR Error compiling function: {}",
                    super::engine::error_message(&e)
                ))
            })?;
        let registered: RefCell<BTreeMap<String, Func>> = RefCell::new(BTreeMap::new());
        // Redis stops a library's code after 500 ms (LOAD_TIMEOUT_MS).
        *self.busy.load_deadline.lock() = Some(Instant::now() + Duration::from_millis(500));
        let run = self.lua.scope(|scope| {
            let register = scope.create_function(|_, a: Variadic<Value>| {
                let (fname, description, flags, func) = register_args(&a)?;
                if !valid_name(fname.as_bytes()) {
                    return Err(raise(BAD_NAME.as_bytes()));
                }
                let mut reg = registered.borrow_mut();
                let key = fname.to_ascii_lowercase();
                if reg.contains_key(&key) {
                    return Err(raise(b"Function already exists in the library"));
                }
                reg.insert(
                    key,
                    Func {
                        name: fname,
                        description,
                        flags,
                        func,
                    },
                );
                Ok(())
            })?;
            self.load_redis.raw_set("register_function", register)?;
            self.set_loading.call::<()>(true)?;
            let r: mlua::MultiValue = self.invoke.call((chunk, self.handler.clone()))?;
            Ok(r)
        });
        if self
            .busy
            .load_deadline
            .lock()
            .take()
            .is_some_and(|d| Instant::now() > d)
        {
            // The hook switched to every line to stop the code: back to its period.
            super::engine::install_hook(&self.lua, self.busy.clone(), false);
        }
        self.set_loading.call::<()>(false).ok();
        if let Ok(f) = self.lua.create_function(|_, _a: Variadic<Value>| {
            Err::<(), _>(raise(
                b"redis.register_function can only be called on FUNCTION LOAD command",
            ))
        }) {
            self.load_redis.raw_set("register_function", f).ok();
        }
        let mut values = run
            .map_err(|e| {
                CmdError::Owned(format!(
                    "ERR Error registering functions: {}",
                    super::engine::error_message(&e)
                ))
            })?
            .into_iter();
        if !matches!(values.next(), Some(Value::Boolean(true))) {
            let msg = match values.next() {
                Some(Value::Table(t)) => match t.raw_get::<Value>("err") {
                    Ok(Value::String(s)) => s.to_string_lossy().to_string(),
                    _ => String::new(),
                },
                _ => String::new(),
            };
            return Err(CmdError::Owned(format!(
                "ERR Error registering functions: {msg}"
            )));
        }
        let functions = registered.into_inner();
        if functions.is_empty() {
            return Err(CmdError::Static("ERR No functions registered"));
        }
        Ok(Library {
            name,
            code: code.clone(),
            functions,
        })
    }
}

/// The FUNCTION DUMP payload of `libs` (see the module's comment).
pub fn dump(libs: &Libraries) -> Vec<u8> {
    let mut out = Vec::new();
    for lib in libs.libraries.values() {
        out.push(0xF5);
        out.extend_from_slice(&(lib.code.len() as u32).to_be_bytes());
        out.extend_from_slice(&lib.code);
    }
    out.extend_from_slice(&1u16.to_le_bytes());
    let digest = sha1_smol::Sha1::from(&out).digest().bytes();
    out.extend_from_slice(&digest[..8]);
    out
}

/// The libraries' code in a FUNCTION DUMP payload.
pub fn undump(payload: &[u8]) -> Result<Vec<Bytes>, CmdError> {
    let wrong = || CmdError::Static("ERR DUMP payload version or checksum are wrong");
    if payload.len() < 10 {
        return Err(wrong());
    }
    let (body, sum) = payload.split_at(payload.len() - 8);
    let digest = sha1_smol::Sha1::from(body).digest().bytes();
    if sum != &digest[..8] {
        return Err(wrong());
    }
    let (items, version) = body.split_at(body.len() - 2);
    if version != 1u16.to_le_bytes() {
        return Err(wrong());
    }
    let mut codes = Vec::new();
    let mut pos = 0;
    while pos < items.len() {
        if items[pos] != 0xF5 || pos + 5 > items.len() {
            return Err(CmdError::Static("ERR given type is not a function"));
        }
        let len = u32::from_be_bytes([
            items[pos + 1],
            items[pos + 2],
            items[pos + 3],
            items[pos + 4],
        ]) as usize;
        pos += 5;
        let Some(code) = items.get(pos..pos + len) else {
            return Err(CmdError::Static("ERR can not read data type"));
        };
        codes.push(Bytes::copy_from_slice(code));
        pos += len;
    }
    Ok(codes)
}

/// A run-time view of a function for FCALL: its Lua function and flags.
pub(crate) fn lookup(engine: &Engine, name: &str) -> Option<(Function, ScriptFlags)> {
    let f = engine.libraries.function(name)?;
    Some((f.func.clone(), f.flags))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metadata_as_redis_reads_it() {
        let (e, n, rest) = metadata(b"#!lua name=mylib\nreturn 1").unwrap();
        assert_eq!(
            (e.as_str(), n.as_str(), rest),
            ("lua", "mylib", &b"\nreturn 1"[..])
        );
        assert_eq!(
            metadata(b"return 1").unwrap_err().text(),
            "ERR Missing library metadata"
        );
        assert_eq!(
            metadata(b"#!lua").unwrap_err().text(),
            "ERR Invalid library metadata"
        );
        assert_eq!(
            metadata(b"#!lua x=1\n").unwrap_err().text(),
            "ERR Invalid metadata value given: x=1"
        );
        assert_eq!(
            metadata(b"#!lua\n").unwrap_err().text(),
            "ERR Library name was not given"
        );
    }

    #[test]
    fn dump_payload_round_trips_and_rejects_tampering() {
        assert_eq!(
            undump(&dump(&Libraries::default())).unwrap(),
            Vec::<Bytes>::new()
        );
        let mut bad = dump(&Libraries::default());
        bad[0] ^= 1;
        assert!(undump(&bad).is_err());
        assert!(undump(b"\x00\x01").is_err());
    }
}
