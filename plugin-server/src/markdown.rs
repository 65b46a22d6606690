//! Plugins' display text: markdown rendered with `pulldown-cmark` and sanitised with
//! `ammonia`, so a plugin's markdown (which may carry text from anywhere) can never put a
//! script, an event handler or a `javascript:` link into the page.

/// Renders `markdown` to safe HTML.
pub fn render(markdown: &str) -> String {
    let options = pulldown_cmark::Options::ENABLE_TABLES
        | pulldown_cmark::Options::ENABLE_STRIKETHROUGH
        | pulldown_cmark::Options::ENABLE_TASKLISTS;
    let mut html = String::new();
    pulldown_cmark::html::push_html(
        &mut html,
        pulldown_cmark::Parser::new_ext(markdown, options),
    );
    ammonia::Builder::default()
        .link_rel(Some("noopener noreferrer nofollow"))
        .clean(&html)
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::render;

    #[test]
    fn markdown_renders_and_script_never_survives() {
        assert_eq!(
            render("## Hi\n\n**bold**"),
            "<h2>Hi</h2>\n<p><strong>bold</strong></p>\n"
        );
        let table = [
            "<script>alert(1)</script>",
            "<img src=x onerror=alert(1)>",
            "[click](javascript:alert(1))",
            "<a href=\"javascript:alert(1)\">x</a>",
            "<iframe src=\"https://example.invalid\"></iframe>",
            "<div style=\"background:url(javascript:alert(1))\">x</div>",
        ];
        for attack in table {
            let html = render(attack).to_ascii_lowercase();
            for bad in ["<script", "onerror", "javascript:", "<iframe", "style="] {
                assert!(!html.contains(bad), "{attack} -> {html}");
            }
        }
        assert!(render("[a](https://example.org)").contains("rel=\"noopener noreferrer nofollow\""));
    }
}
