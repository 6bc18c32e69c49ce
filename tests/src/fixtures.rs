//! Seed fixtures: the vendors' documented JSON, and a field-by-field
//! comparison of chatgate's output with them.

use std::path::PathBuf;

use serde_json::Value;

/// A fixture file under `tests/fixtures/`.
pub fn fixture(path: &str) -> Value {
    let file = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fixtures").join(path);
    let text = std::fs::read_to_string(&file).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", file.display()))
}

fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// Asserts that `actual` has every field of `fixture` with the same JSON
/// type, recursively; that the fields at the `exact` paths (`event.name`)
/// also have the fixture's values; and that `actual` has no field the
/// fixture lacks except those at the `extra` paths.
pub fn assert_matches_fixture(fixture: &Value, actual: &Value, exact: &[&str], extra: &[&str]) {
    compare(fixture, actual, "", extra);
    for path in exact {
        assert_eq!(at(actual, path), at(fixture, path), "value of {path} in {actual}");
    }
}

fn at<'a>(value: &'a Value, path: &str) -> &'a Value {
    path.split('.').fold(value, |v, key| &v[key])
}

fn compare(fixture: &Value, actual: &Value, path: &str, extra: &[&str]) {
    let here = if path.is_empty() { "(root)" } else { path };
    assert_eq!(kind(actual), kind(fixture), "type of {here}: fixture {fixture}, got {actual}");
    if let (Value::Object(f), Value::Object(a)) = (fixture, actual) {
        for (key, fv) in f {
            let child = if path.is_empty() { key.clone() } else { format!("{path}.{key}") };
            let av = a.get(key).unwrap_or_else(|| panic!("{child} is missing from {actual}"));
            compare(fv, av, &child, extra);
        }
        for key in a.keys() {
            let child = if path.is_empty() { key.clone() } else { format!("{path}.{key}") };
            assert!(
                f.contains_key(key) || extra.contains(&child.as_str()),
                "{child} is not in the fixture: {actual}"
            );
        }
    }
}
