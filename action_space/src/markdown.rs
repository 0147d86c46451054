//! Readable text and markdown from a page, for agents.

/// Line width html2text wraps at: wide, so sentences stay on one line for agents.
const WIDTH: usize = 200;

/// Converts HTML to markdown-flavoured text: headings as `#`, lists as `*`, links as
/// reference-style `[text][n]` with their targets listed at the end.
pub fn from_html(html: &str) -> String {
    match html2text::from_read(html.as_bytes(), WIDTH) {
        Ok(text) => collapse_blank_lines(&text),
        // html2text only fails on a broken writer or absurd nesting: fall back to plain text.
        Err(_) => clean_text(html),
    }
}

/// Cleans `innerText`: trims line ends, collapses runs of blank lines and of spaces.
pub fn clean_text(text: &str) -> String {
    let lines: Vec<String> = text
        .lines()
        .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
        .collect();
    collapse_blank_lines(&lines.join("\n"))
}

/// Trims line ends and keeps at most one blank line in a row.
pub fn collapse_blank_lines(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut blank_run = 0;
    for line in text.lines() {
        let line = line.trim_end();
        if line.is_empty() {
            blank_run += 1;
            if blank_run > 1 {
                continue;
            }
        } else {
            blank_run = 0;
        }
        out.push_str(line);
        out.push('\n');
    }
    out.trim().to_string()
}

/// Cuts `text` to at most `max` characters at a line end where there is one, and says how
/// much was left out.
pub fn cap(text: &mut String, max: usize) {
    let total = text.chars().count();
    if total <= max {
        return;
    }
    let cut = text.char_indices().nth(max).map_or(text.len(), |(i, _)| i);
    let keep = match text[..cut].rfind('\n') {
        Some(nl) if nl > cut / 2 => nl,
        _ => cut,
    };
    let left = total.saturating_sub(text[..keep].chars().count());
    text.truncate(keep);
    text.push_str(&format!(
        "\n\n… {left} more characters of the page not shown (max_chars {max}): scroll, scrape, or observe with a larger max_chars"
    ));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_capped_page_says_what_was_left_out() {
        let mut t = "line one\nline two\nline three".to_string();
        cap(&mut t, 12);
        assert!(t.starts_with("line one\n\n…"), "{t}");
        assert!(t.contains("20 more characters"), "{t}");
        let mut short = "é".repeat(5);
        cap(&mut short, 5);
        assert_eq!(short, "é".repeat(5));
        let mut wide = "é".repeat(10);
        cap(&mut wide, 3);
        assert!(wide.starts_with("ééé\n"), "{wide}");
    }

    #[test]
    fn text_is_cleaned() {
        assert_eq!(clean_text("  a   b \n\n\n\n c\t d  "), "a b\n\nc d");
    }

    #[test]
    fn markdown_keeps_headings_and_links() {
        let md = from_html("<h1>Shop</h1><p>Buy <a href=\"/mug\">a mug</a></p>");
        assert!(md.contains("# Shop"), "{md}");
        assert!(md.contains("a mug"), "{md}");
        assert!(md.contains("/mug"), "{md}");
    }
}
