//! The program model: [`Command`], read from and written back to JSON values.
//!
//! A command is a JSON object with a `"type"` and that type's fields; unknown fields
//! are ignored. Field names are matched as Go's `encoding/json` matches them: exactly,
//! else ignoring ASCII case (the last such field wins). A missing or null scalar field
//! takes Go's zero value (`""`, `0`, null); `if_true`/`if_false` are required, and a
//! null where a command is expected is an unknown command, as in Go.

use std::borrow::Cow;

use mapcache_store::{Field, Hash, Value};

use crate::error::ParseError;

/// One command of map-cache's language.
#[derive(Debug, Clone, PartialEq)]
pub enum Command {
    /// `INC key value`: adds `value` to the number at `key`.
    Inc { key: String, value: f64 },
    /// `REPLACE key value`: overwrites the existing `key` with `value` (not interpolated).
    Replace { key: String, value: Value },
    /// `DELETE key`: removes `key`, or every match of a pattern with `*`.
    Delete { key: String },
    /// `GET key`: the value at `key`, or `{path: value}` for a pattern with `*`.
    Get { key: String },
    /// `RETURN key`: a string is interpolated, anything else answered as given.
    Return { key: Value },
    /// `PRINT messages`: each message interpolated; answers the list of texts.
    Print { messages: Vec<String> },
    /// `NOOP`: answers null.
    Noop,
    /// `COMMANDS commands`: runs each in order; answers the list of their values.
    Commands { commands: Vec<Command> },
    /// `IF condition if_true if_false`.
    If {
        condition: String,
        if_true: Box<Command>,
        if_false: Box<Command>,
    },
    /// `FOR loop_expr commands`: runs `commands` once per match of `loop_expr`.
    For {
        loop_expr: String,
        commands: Vec<Command>,
    },
}

impl Command {
    /// The command's `"type"` text.
    pub fn type_name(&self) -> &'static str {
        match self {
            Command::Inc { .. } => "INC",
            Command::Replace { .. } => "REPLACE",
            Command::Delete { .. } => "DELETE",
            Command::Get { .. } => "GET",
            Command::Return { .. } => "RETURN",
            Command::Print { .. } => "PRINT",
            Command::Noop => "NOOP",
            Command::Commands { .. } => "COMMANDS",
            Command::If { .. } => "IF",
            Command::For { .. } => "FOR",
        }
    }

    /// Reads one command from its JSON value.
    pub fn from_value(value: &Value) -> Result<Command, ParseError> {
        parse_command(value, "command")
    }

    /// The command as JSON, in Go's shape (`type` first, then the fields in Go's
    /// declaration order); [`Command::from_value`] reads it back unchanged.
    pub fn to_value(&self) -> Value {
        let mut o = Hash::new();
        o.insert(b"type", text_value(self.type_name()));
        match self {
            Command::Inc { key, value } => {
                o.insert(b"key", text_value(key));
                o.insert(b"value", Value::Number(*value));
            }
            Command::Replace { key, value } => {
                o.insert(b"key", text_value(key));
                o.insert(b"value", value.clone());
            }
            Command::Delete { key } | Command::Get { key } => {
                o.insert(b"key", text_value(key));
            }
            Command::Return { key } => {
                o.insert(b"key", key.clone());
            }
            Command::Print { messages } => {
                let list = messages.iter().map(|m| text_value(m)).collect();
                o.insert(b"messages", Value::List(list));
            }
            Command::Noop => {}
            Command::Commands { commands } => {
                o.insert(b"commands", list_value(commands));
            }
            Command::If {
                condition,
                if_true,
                if_false,
            } => {
                o.insert(b"condition", text_value(condition));
                o.insert(b"if_true", if_true.to_value());
                o.insert(b"if_false", if_false.to_value());
            }
            Command::For {
                loop_expr,
                commands,
            } => {
                o.insert(b"loop_expr", text_value(loop_expr));
                o.insert(b"commands", list_value(commands));
            }
        }
        Value::hash(o)
    }

    /// A copy with `edit` applied to every text FOR substitutes captures into (Go's
    /// `transformCommand`): keys of GET, REPLACE, INC and DELETE, a RETURN string, PRINT
    /// messages, IF conditions, FOR loop expressions, and all nested commands. Values
    /// of REPLACE and INC are left alone.
    pub fn map_text(&self, edit: &dyn Fn(&str) -> String) -> Command {
        let all = |commands: &[Command]| commands.iter().map(|c| c.map_text(edit)).collect();
        match self {
            Command::Inc { key, value } => Command::Inc {
                key: edit(key),
                value: *value,
            },
            Command::Replace { key, value } => Command::Replace {
                key: edit(key),
                value: value.clone(),
            },
            Command::Delete { key } => Command::Delete { key: edit(key) },
            Command::Get { key } => Command::Get { key: edit(key) },
            Command::Return { key } => Command::Return {
                key: match key {
                    Value::Str(s) => text_value(&edit(&String::from_utf8_lossy(s))),
                    other => other.clone(),
                },
            },
            Command::Print { messages } => Command::Print {
                messages: messages.iter().map(|m| edit(m)).collect(),
            },
            Command::Noop => Command::Noop,
            Command::Commands { commands } => Command::Commands {
                commands: all(commands),
            },
            Command::If {
                condition,
                if_true,
                if_false,
            } => Command::If {
                condition: edit(condition),
                if_true: Box::new(if_true.map_text(edit)),
                if_false: Box::new(if_false.map_text(edit)),
            },
            Command::For {
                loop_expr,
                commands,
            } => Command::For {
                loop_expr: edit(loop_expr),
                commands: all(commands),
            },
        }
    }
}

/// Reads the body of `POST /api/v1/commands/execute`: `{"commands": [cmd, ...]}`.
/// No commands at all is [`ParseError::Empty`].
pub fn parse_request(body: &Value) -> Result<Vec<Command>, ParseError> {
    let Value::Hash(fields) = body else {
        return Err(ParseError::invalid("request", "expected a JSON object"));
    };
    let commands = parse_list(field(fields, "commands").as_deref(), "commands")?;
    if commands.is_empty() {
        return Err(ParseError::Empty);
    }
    Ok(commands)
}

pub(crate) fn text_value(s: &str) -> Value {
    Value::string(s.as_bytes())
}

fn list_value(commands: &[Command]) -> Value {
    Value::List(commands.iter().map(Command::to_value).collect())
}

/// The field `name`: exactly, else the last one equal to it ignoring ASCII case.
pub(crate) fn field<'a>(fields: &'a Hash, name: &str) -> Option<Cow<'a, Value>> {
    let found = fields.get(name.as_bytes()).or_else(|| {
        fields
            .iter()
            .filter(|(k, _)| k.eq_ignore_ascii_case(name.as_bytes()))
            .last()
            .map(|(_, v)| v)
    });
    found.map(Field::cow)
}

pub(crate) fn string_field(fields: &Hash, name: &str, at: &str) -> Result<String, ParseError> {
    match field(fields, name).as_deref() {
        None | Some(Value::Null) => Ok(String::new()),
        Some(Value::Str(s)) => Ok(String::from_utf8_lossy(s).into_owned()),
        Some(_) => Err(ParseError::invalid(
            at,
            format!("field {name}: expected a string"),
        )),
    }
}

fn parse_list(value: Option<&Value>, at: &str) -> Result<Vec<Command>, ParseError> {
    match value {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::List(items)) => items
            .iter()
            .enumerate()
            .map(|(i, item)| parse_command(&item.cow(), &format!("{at}[{i}]")))
            .collect(),
        Some(_) => Err(ParseError::invalid(at, "expected an array of commands")),
    }
}

pub(crate) fn parse_command(value: &Value, at: &str) -> Result<Command, ParseError> {
    let Value::Hash(fields) = value else {
        return Err(ParseError::invalid(
            at,
            format!("unknown command type: {}", type_text(value)),
        ));
    };
    let kind = string_field(fields, "type", at)?;
    let key = || string_field(fields, "key", at);
    Ok(match kind.as_str() {
        "INC" => Command::Inc {
            key: key()?,
            value: match field(fields, "value").as_deref() {
                None | Some(Value::Null) => 0.0,
                Some(Value::Number(n)) => *n,
                Some(_) => return Err(ParseError::invalid(at, "field value: expected a number")),
            },
        },
        "REPLACE" => Command::Replace {
            key: key()?,
            value: field(fields, "value")
                .as_deref()
                .cloned()
                .unwrap_or(Value::Null),
        },
        "DELETE" => Command::Delete { key: key()? },
        "GET" => Command::Get { key: key()? },
        "RETURN" => Command::Return {
            key: field(fields, "key")
                .as_deref()
                .cloned()
                .unwrap_or(Value::Null),
        },
        "PRINT" => Command::Print {
            messages: parse_messages(field(fields, "messages").as_deref(), at)?,
        },
        "NOOP" => Command::Noop,
        "COMMANDS" => Command::Commands {
            commands: parse_list(
                field(fields, "commands").as_deref(),
                &format!("{at}.commands"),
            )?,
        },
        "IF" => Command::If {
            condition: string_field(fields, "condition", at)?,
            if_true: Box::new(required(fields, "if_true", at)?),
            if_false: Box::new(required(fields, "if_false", at)?),
        },
        "FOR" => Command::For {
            loop_expr: string_field(fields, "loop_expr", at)?,
            commands: parse_list(
                field(fields, "commands").as_deref(),
                &format!("{at}.commands"),
            )?,
        },
        other => {
            return Err(ParseError::invalid(
                at,
                format!("unknown command type: {other}"),
            ))
        }
    })
}

fn required(fields: &Hash, name: &str, at: &str) -> Result<Command, ParseError> {
    let at = format!("{at}.{name}");
    match field(fields, name).as_deref() {
        Some(value) => parse_command(value, &at),
        None => Err(ParseError::invalid(&at, "missing command")),
    }
}

fn parse_messages(value: Option<&Value>, at: &str) -> Result<Vec<String>, ParseError> {
    let bad = || ParseError::invalid(at, "field messages: expected an array of strings");
    match value {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::List(items)) => items
            .iter()
            .map(|item| match item.str_bytes() {
                Some(s) => Ok(String::from_utf8_lossy(s).into_owned()),
                None => Err(bad()),
            })
            .collect(),
        Some(_) => Err(bad()),
    }
}

/// How an unknown non-object "command" is named in the error (Go reads its `type` as "").
fn type_text(value: &Value) -> &'static str {
    match value {
        Value::Null => "",
        _ => "(not an object)",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn json(text: &str) -> Value {
        let mut bytes = text.as_bytes().to_vec();
        mapcache_store::json::parse(&mut bytes, 64).unwrap()
    }

    fn parse(text: &str) -> Result<Command, ParseError> {
        Command::from_value(&json(text))
    }

    fn reason(result: Result<Command, ParseError>) -> String {
        match result {
            Err(ParseError::Invalid { reason, .. }) => reason,
            other => panic!("expected Invalid, got {other:?}"),
        }
    }

    #[test]
    fn reads_every_type() {
        assert_eq!(
            parse(r#"{"type":"INC","key":"a","value":-1.5,"extra":1}"#).unwrap(),
            Command::Inc {
                key: "a".into(),
                value: -1.5
            }
        );
        assert_eq!(
            parse(r#"{"type":"REPLACE","key":"a","value":[1]}"#).unwrap(),
            Command::Replace {
                key: "a".into(),
                value: Value::List([Value::Number(1.0)].into())
            }
        );
        assert_eq!(
            parse(r#"{"type":"DELETE","key":"a/*"}"#).unwrap(),
            Command::Delete { key: "a/*".into() }
        );
        assert_eq!(
            parse(r#"{"type":"GET","key":"a"}"#).unwrap(),
            Command::Get { key: "a".into() }
        );
        assert_eq!(
            parse(r#"{"type":"RETURN","key":5}"#).unwrap(),
            Command::Return {
                key: Value::Number(5.0)
            }
        );
        assert_eq!(
            parse(r#"{"type":"PRINT","messages":["x","y"]}"#).unwrap(),
            Command::Print {
                messages: vec!["x".into(), "y".into()]
            }
        );
        assert_eq!(parse(r#"{"type":"NOOP"}"#).unwrap(), Command::Noop);
        assert_eq!(
            parse(r#"{"type":"COMMANDS","commands":[{"type":"NOOP"}]}"#).unwrap(),
            Command::Commands {
                commands: vec![Command::Noop]
            }
        );
        assert_eq!(
            parse(r#"{"type":"IF","condition":"true","if_true":{"type":"NOOP"},"if_false":{"type":"GET","key":"k"}}"#)
                .unwrap(),
            Command::If {
                condition: "true".into(),
                if_true: Box::new(Command::Noop),
                if_false: Box::new(Command::Get { key: "k".into() })
            }
        );
        assert_eq!(
            parse(r#"{"type":"FOR","loop_expr":"${{a/*}}","commands":[{"type":"NOOP"}]}"#).unwrap(),
            Command::For {
                loop_expr: "${{a/*}}".into(),
                commands: vec![Command::Noop]
            }
        );
    }

    #[test]
    fn missing_fields_take_go_zero_values() {
        assert_eq!(
            parse(r#"{"type":"INC"}"#).unwrap(),
            Command::Inc {
                key: String::new(),
                value: 0.0
            }
        );
        assert_eq!(
            parse(r#"{"type":"REPLACE","key":"a"}"#).unwrap(),
            Command::Replace {
                key: "a".into(),
                value: Value::Null
            }
        );
        assert_eq!(
            parse(r#"{"type":"COMMANDS"}"#).unwrap(),
            Command::Commands { commands: vec![] }
        );
    }

    #[test]
    fn field_names_match_ignoring_case_like_go() {
        assert_eq!(
            parse(r#"{"Type":"GET","KEY":"a"}"#).unwrap(),
            Command::Get { key: "a".into() }
        );
        assert_eq!(
            parse(r#"{"type":"GET","key":"exact","KEY":"folded"}"#).unwrap(),
            Command::Get {
                key: "exact".into()
            }
        );
    }

    #[test]
    fn rejects_malformed_commands() {
        assert_eq!(reason(parse(r#"{"key":"a"}"#)), "unknown command type: ");
        assert_eq!(
            reason(parse(r#"{"type":"get","key":"a"}"#)),
            "unknown command type: get"
        );
        assert_eq!(reason(parse("null")), "unknown command type: ");
        assert_eq!(
            reason(parse("[1]")),
            "unknown command type: (not an object)"
        );
        assert_eq!(
            reason(parse(r#"{"type":"GET","key":5}"#)),
            "field key: expected a string"
        );
        assert_eq!(
            reason(parse(r#"{"type":"INC","key":"a","value":"1"}"#)),
            "field value: expected a number"
        );
        assert_eq!(
            reason(parse(r#"{"type":"PRINT","messages":[1]}"#)),
            "field messages: expected an array of strings"
        );
        assert_eq!(
            reason(parse(
                r#"{"type":"IF","condition":"true","if_true":{"type":"NOOP"}}"#
            )),
            "missing command"
        );
        assert_eq!(
            reason(parse(
                r#"{"type":"IF","condition":"true","if_true":{"type":"NOOP"},"if_false":null}"#
            )),
            "unknown command type: "
        );
        assert_eq!(
            reason(parse(r#"{"type":"COMMANDS","commands":{"type":"NOOP"}}"#)),
            "expected an array of commands"
        );
        let nested = parse(r#"{"type":"COMMANDS","commands":[{"type":"NOOP"},{"type":"X"}]}"#);
        assert_eq!(
            nested,
            Err(ParseError::Invalid {
                at: "command.commands[1]".into(),
                reason: "unknown command type: X".into()
            })
        );
    }

    #[test]
    fn request_needs_at_least_one_command() {
        assert_eq!(
            parse_request(&json(r#"{"commands":[]}"#)),
            Err(ParseError::Empty)
        );
        assert_eq!(parse_request(&json("{}")), Err(ParseError::Empty));
        assert!(matches!(
            parse_request(&json("[]")),
            Err(ParseError::Invalid { .. })
        ));
        assert_eq!(
            parse_request(&json(r#"{"commands":[{"type":"NOOP"}]}"#)).unwrap(),
            vec![Command::Noop]
        );
    }

    #[test]
    fn to_value_round_trips() {
        let text = r#"{"type":"IF","condition":"${{a}} == 1","if_true":{"type":"COMMANDS","commands":[{"type":"REPLACE","key":"b","value":{"x":[true,null]}},{"type":"PRINT","messages":["m"]}]},"if_false":{"type":"FOR","loop_expr":"${{c/*}}","commands":[{"type":"INC","key":"c/${{1}}","value":2},{"type":"RETURN","key":"r"},{"type":"DELETE","key":"d"},{"type":"GET","key":"g"},{"type":"NOOP"}]}}"#;
        let command = parse(text).unwrap();
        assert_eq!(Command::from_value(&command.to_value()).unwrap(), command);
        let mut out = Vec::new();
        mapcache_store::json::write(&command.to_value(), &mut out);
        assert_eq!(String::from_utf8(out).unwrap(), text);
    }

    #[test]
    fn map_text_edits_keys_messages_and_conditions_not_values() {
        let command = parse(r#"{"type":"COMMANDS","commands":[{"type":"REPLACE","key":"a/${{1}}","value":"${{1}}"},{"type":"RETURN","key":"${{1}}"},{"type":"RETURN","key":1}]}"#).unwrap();
        let edited = command.map_text(&|s| s.replace("${{1}}", "x"));
        let expected = parse(r#"{"type":"COMMANDS","commands":[{"type":"REPLACE","key":"a/x","value":"${{1}}"},{"type":"RETURN","key":"x"},{"type":"RETURN","key":1}]}"#).unwrap();
        assert_eq!(edited, expected);
    }
}
