//! JSON pointers (RFC 6901) with the leniency vendors need.

use serde_json::Value;

/// The value at `ptr` (`""` = the whole value). A string holding JSON on the way is decoded
/// when the pointer continues into it (ikas's `data`).
pub(crate) fn at<'v>(v: &'v Value, ptr: &str) -> Option<std::borrow::Cow<'v, Value>> {
    use std::borrow::Cow;
    if let Some(found) = v.pointer(ptr) {
        return Some(Cow::Borrowed(found));
    }
    // Walk segment by segment, decoding JSON strings.
    let mut current: Cow<'v, Value> = Cow::Borrowed(v);
    for seg in ptr.split('/').skip(1) {
        let seg = seg.replace("~1", "/").replace("~0", "~");
        if let Value::String(s) = current.as_ref()
            && let Ok(decoded) = serde_json::from_str::<Value>(s)
        {
            current = Cow::Owned(decoded);
        }
        let next = match current.as_ref() {
            Value::Object(m) => m.get(&seg).cloned(),
            Value::Array(a) => seg.parse::<usize>().ok().and_then(|i| a.get(i)).cloned(),
            _ => None,
        }?;
        current = Cow::Owned(next);
    }
    Some(current)
}

/// The value at `ptr` as text: strings trimmed, numbers and booleans rendered; None when
/// absent, null or empty.
pub(crate) fn text(v: &Value, ptr: &str) -> Option<String> {
    match at(v, ptr)?.as_ref() {
        Value::String(s) => Some(s.trim().to_owned()).filter(|s| !s.is_empty()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// Decodes a JSON string value into JSON when it holds an object or array.
pub(crate) fn decode_string(v: Value) -> Value {
    match &v {
        Value::String(s) => match serde_json::from_str::<Value>(s) {
            Ok(d @ (Value::Object(_) | Value::Array(_))) => d,
            _ => v,
        },
        _ => v,
    }
}
