//! Keeping big strings (tool output, bad lines) to a size the UI and the history can carry.

/// Most bytes of tool output kept in a `toolResult` event.
pub const MAX_TOOL_OUTPUT: usize = 16 * 1024;

/// Most bytes of an unreadable line kept in an `error` event.
pub const MAX_ERROR_LINE: usize = 4 * 1024;

/// `s` unchanged when it fits in `max` bytes; otherwise its head and tail (half of `max`
/// each, cut on char boundaries) around a marker saying how many bytes were dropped.
pub fn trim_middle(s: &str, max: usize) -> String {
    if s.len() <= max {
        return s.to_string();
    }
    let half = max / 2;
    let mut head_end = half;
    while !s.is_char_boundary(head_end) {
        head_end -= 1;
    }
    let mut tail_start = s.len() - half;
    while !s.is_char_boundary(tail_start) {
        tail_start += 1;
    }
    let dropped = tail_start - head_end;
    format!(
        "{}\n[… {dropped} bytes trimmed by caic …]\n{}",
        &s[..head_end],
        &s[tail_start..]
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_text_is_kept() {
        assert_eq!(trim_middle("hello", 10), "hello");
    }

    #[test]
    fn long_text_keeps_head_and_tail() {
        let s = format!("{}{}", "a".repeat(100), "z".repeat(100));
        let t = trim_middle(&s, 20);
        assert!(
            t.starts_with("aaaaaaaaaa\n[… 180 bytes trimmed by caic …]\n"),
            "{t}"
        );
        assert!(t.ends_with("zzzzzzzzzz"), "{t}");
    }

    #[test]
    fn cuts_on_char_boundaries() {
        let s = "é".repeat(50); // 2 bytes each
        let t = trim_middle(&s, 11);
        assert!(t.starts_with("éé\n"), "{t}");
        assert!(t.ends_with("\néé"), "{t}");
    }
}
