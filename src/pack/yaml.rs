//! A JSON value written as block-style YAML, for Kubernetes manifests that people read.
//!
//! Only what JSON can hold is written, so the mapping is simple: objects are `key: value`
//! lines, arrays `- item` lines, and a string is written plain only when it cannot be read as
//! anything else (letters, digits and `_./-`, not starting with a digit, `.` or `-`, and not
//! a YAML 1.1 boolean or null); otherwise it is double-quoted with JSON's escapes, which YAML's
//! double-quoted style shares.

use serde_json::Value;
use std::io::{self, Write};

/// Writes `value` as one YAML document, starting with `---`.
pub fn write_document(out: &mut dyn Write, value: &Value) -> io::Result<()> {
    out.write_all(b"---\n")?;
    match value {
        Value::Object(_) | Value::Array(_) => block(out, value, 0),
        scalar => writeln!(out, "{}", inline(scalar)),
    }
}

/// A block collection at `indent`.
fn block(out: &mut dyn Write, value: &Value, indent: usize) -> io::Result<()> {
    let pad = " ".repeat(indent);
    match value {
        Value::Object(map) => {
            for (key, item) in map {
                write!(out, "{pad}{}:", string(key))?;
                nested(out, item, indent)?;
            }
        }
        Value::Array(items) => {
            for item in items {
                write!(out, "{pad}-")?;
                match item {
                    Value::Object(map) if !map.is_empty() => {
                        // The first member on the dash's line, the others under it.
                        let mut first = true;
                        for (key, member) in map {
                            let lead = if first {
                                " ".into()
                            } else {
                                " ".repeat(indent + 2)
                            };
                            write!(out, "{lead}{}:", string(key))?;
                            nested(out, member, indent + 2)?;
                            first = false;
                        }
                    }
                    _ => nested(out, item, indent)?,
                }
            }
        }
        scalar => writeln!(out, "{pad}{}", inline(scalar))?,
    }
    Ok(())
}

/// What follows `key:` or `-`: a scalar or empty collection on the line, else a block below.
fn nested(out: &mut dyn Write, value: &Value, indent: usize) -> io::Result<()> {
    match value {
        Value::Object(map) if !map.is_empty() => {
            writeln!(out)?;
            block(out, value, indent + 2)
        }
        Value::Array(items) if !items.is_empty() => {
            writeln!(out)?;
            block(out, value, indent + 2)
        }
        other => writeln!(out, " {}", inline(other)),
    }
}

/// A scalar or an empty collection, on one line.
fn inline(value: &Value) -> String {
    match value {
        Value::Null => "null".into(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::String(s) => string(s),
        Value::Array(_) => "[]".into(),
        Value::Object(_) => "{}".into(),
    }
}

/// A string, plain if that is unambiguous, else double-quoted.
fn string(text: &str) -> String {
    if plain_is_safe(text) {
        text.to_string()
    } else {
        Value::String(text.to_string()).to_string()
    }
}

fn plain_is_safe(text: &str) -> bool {
    const SPECIAL: &[&str] = &[
        "null", "~", "true", "false", "yes", "no", "on", "off", "y", "n",
    ];
    let Some(first) = text.chars().next() else {
        return false;
    };
    (first.is_ascii_alphabetic() || first == '_' || first == '/')
        && text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '/' | '-'))
        && !SPECIAL.contains(&text.to_ascii_lowercase().as_str())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn yaml(value: &Value) -> String {
        let mut out = Vec::new();
        write_document(&mut out, value).unwrap_or_default();
        String::from_utf8(out).unwrap_or_default()
    }

    #[test]
    fn layout() {
        let value = json!({
            "kind": "Pod",
            "metadata": {"name": "injector", "labels": {"app": "zarf-injector"}},
            "spec": {
                "containers": [{"name": "a", "command": ["/x", "0abc"], "ports": []}],
                "empty": {},
                "count": 5,
                "flag": true,
            },
        });
        let want = "\
---
kind: Pod
metadata:
  name: injector
  labels:
    app: zarf-injector
spec:
  containers:
    - name: a
      command:
        - /x
        - \"0abc\"
      ports: []
  empty: {}
  count: 5
  flag: true
";
        assert_eq!(yaml(&value), want);
    }

    #[test]
    fn strings_that_must_be_quoted() {
        for text in [
            "", "true", "No", "~", "null", "1", "0777", "1e3", "-x", ".5", "a b", "a:b", "a=",
            "x\"y",
        ] {
            assert!(!plain_is_safe(text), "{text:?}");
        }
        for text in [
            "zarf-injector",
            "app.kubernetes.io/part-of",
            "/v2/",
            "IfNotPresent",
            "RuntimeDefault",
        ] {
            assert!(plain_is_safe(text), "{text:?}");
        }
    }
}
