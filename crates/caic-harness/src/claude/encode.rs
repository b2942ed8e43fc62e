//! What caic writes to Claude Code's stdin.

use caic_api::Prompt;
use serde_json::json;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

/// A stream-json user message: plain string content for text only; with images, one
/// base64 image block per image followed by the text block. No trailing newline.
pub fn encode_prompt(prompt: &Prompt) -> String {
    let content = if prompt.images.is_empty() {
        json!(prompt.text)
    } else {
        let mut blocks: Vec<serde_json::Value> = prompt
            .images
            .iter()
            .map(|img| {
                json!({
                    "type": "image",
                    "source": {"type": "base64", "media_type": img.media_type, "data": img.data},
                })
            })
            .collect();
        blocks.push(json!({"type": "text", "text": prompt.text}));
        json!(blocks)
    };
    json!({"type": "user", "message": {"role": "user", "content": content}}).to_string()
}

/// A `control_request` interrupting the current turn, with a request id unique in this
/// process (and, through the timestamp, across restarts).
pub fn encode_interrupt() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis())
        .unwrap_or(0);
    json!({
        "type": "control_request",
        "request_id": format!("caic-interrupt-{ms}-{n}"),
        "request": {"subtype": "interrupt"},
    })
    .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use caic_api::ImageData;
    use serde_json::Value;

    #[test]
    fn text_prompt_is_one_line_with_string_content() {
        let line = encode_prompt(&Prompt {
            text: "fix\nthe \"bug\"".into(),
            images: vec![],
        });
        assert!(!line.contains('\n'));
        let v: Value = serde_json::from_str(&line).unwrap();
        assert_eq!(
            v,
            json!({"type":"user","message":{"role":"user","content":"fix\nthe \"bug\""}})
        );
    }

    #[test]
    fn images_come_before_the_text_block() {
        let line = encode_prompt(&Prompt {
            text: "what is this?".into(),
            images: vec![ImageData {
                media_type: "image/png".into(),
                data: "iVBORw0KGgo=".into(),
            }],
        });
        let v: Value = serde_json::from_str(&line).unwrap();
        let content = &v["message"]["content"];
        assert_eq!(content[0]["type"], "image");
        assert_eq!(content[0]["source"]["media_type"], "image/png");
        assert_eq!(content[0]["source"]["data"], "iVBORw0KGgo=");
        assert_eq!(content[1], json!({"type":"text","text":"what is this?"}));
    }

    #[test]
    fn interrupts_have_distinct_request_ids() {
        let a: Value = serde_json::from_str(&encode_interrupt()).unwrap();
        let b: Value = serde_json::from_str(&encode_interrupt()).unwrap();
        assert_eq!(a["type"], "control_request");
        assert_eq!(a["request"]["subtype"], "interrupt");
        assert_ne!(a["request_id"], b["request_id"]);
    }
}
