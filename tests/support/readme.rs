//! The README's recipes, read from the README itself, so that the documentation and the tests
//! cannot drift apart.
//!
//! # The convention
//!
//! A recipe is a fenced code block in `README.md` whose line just before the opening fence is
//! an HTML comment naming it (invisible when the README is rendered):
//!
//! ````markdown
//! <!-- recipe: exim/remote_smtp.conf -->
//! ```
//! transport_filter = /usr/bin/mimeinject --root /srv/mail-attachments $pipe_addresses
//! ```
//! ````
//!
//! Names are unique and look like file paths (`AREA/NAME.EXT`): the Debian package ships each
//! recipe under that name in `/usr/share/doc/mimeinject/examples/`, and the tests run them by
//! the same name. [`recipe`] returns the block's text; [`recipes`] lists every name.

use std::path::Path;

/// The README's text.
pub fn readme() -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md");
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Every recipe in the README, as `(name, text)` in the order they appear. The text is the
/// code block's content, without the fences, ending with a newline.
pub fn recipes() -> Vec<(String, String)> {
    parse(&readme())
}

/// The text of the recipe called `name`. Panics, naming the recipe, when the README has none.
pub fn recipe(name: &str) -> String {
    recipes()
        .into_iter()
        .find(|(n, _)| n == name)
        .map(|(_, text)| text)
        .unwrap_or_else(|| panic!("README.md has no recipe {name:?} (<!-- recipe: {name} -->)"))
}

fn parse(readme: &str) -> Vec<(String, String)> {
    const OPEN: &str = "<!-- recipe: ";
    let mut out: Vec<(String, String)> = Vec::new();
    let mut lines = readme.lines();
    while let Some(line) = lines.next() {
        let Some(name) = line.trim().strip_prefix(OPEN).and_then(|r| r.strip_suffix("-->")) else {
            continue;
        };
        let name = name.trim().to_owned();
        let fence = lines.next().unwrap_or_default().trim_start();
        assert!(fence.starts_with("```"), "recipe {name:?}: no code block right after its marker");
        let fence = &fence[..fence.len() - fence.trim_start_matches('`').len()];
        let mut text = String::new();
        for line in lines.by_ref() {
            if line.trim_start().starts_with(fence) {
                break;
            }
            text.push_str(line);
            text.push('\n');
        }
        assert!(!out.iter().any(|(n, _)| *n == name), "recipe {name:?} appears twice");
        out.push((name, text));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recipes_are_found_by_their_marker() {
        let text = "intro\n<!-- recipe: a/b.conf -->\n```\nx = 1\n  y\n```\n\
                    ```\nnot a recipe\n```\n<!-- recipe: c/d.py -->\n````python\nprint(1)\n````\n";
        let found = parse(text);
        assert_eq!(
            found,
            [("a/b.conf".into(), "x = 1\n  y\n".into()), ("c/d.py".into(), "print(1)\n".into())]
        );
    }

    #[test]
    fn every_recipe_in_the_readme_parses() {
        // Names are unique and file-like: the package installs them under these names.
        for (name, text) in recipes() {
            assert!(name.contains('/') && !name.contains(".."), "recipe name {name:?}");
            assert!(!text.is_empty(), "recipe {name:?} is empty");
        }
    }
}
