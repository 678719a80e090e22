//! FUNCTION libraries: `#!lua name=lib` code registering functions with
//! `redis.register_function`, kept by library name.

use std::collections::BTreeMap;

use bytes::Bytes;
use mlua::Function;

use super::ScriptFlags;

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

/// Every loaded library, and which library each function belongs to.
#[derive(Debug, Default)]
pub struct Libraries {
    pub libraries: BTreeMap<String, Library>,
    pub functions: BTreeMap<String, String>,
}
