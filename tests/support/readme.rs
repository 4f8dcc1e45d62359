//! The documentation's recipes, read from the documents themselves, so that the documentation
//! and the tests cannot drift apart.
//!
//! # The convention
//!
//! The documentation is `README.md` and the guide's chapters, `docs/*.md`. A recipe is a fenced
//! code block in one of them whose line just before the opening fence is an HTML comment naming
//! it (invisible when the Markdown is rendered):
//!
//! ````markdown
//! <!-- recipe: exim/remote_smtp.conf -->
//! ```
//! transport_filter = /usr/bin/mimeinject --root /srv/mail-attachments $pipe_addresses
//! ```
//! ````
//!
//! Names are unique and look like file paths (`AREA/NAME.EXT`): the Debian package ships each
//! exim and Postfix recipe under that name in `/usr/share/doc/mimeinject/examples/`
//! (`packaging/examples.list`), and the tests run them by the same name. A recipe may be shown
//! in more than one place (the README's shortest recipes are also in their chapter) only word
//! for word. [`recipe`] returns the block's text, and panics, failing the test, when no
//! document has it; [`recipes`] lists every name; [`document`] reads one document.

use std::path::{Path, PathBuf};

fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// The documents recipes are read from, relative to the repository: `README.md`, then
/// `docs/*.md` in byte order of their names (as `scripts/readme-recipes.sh` reads them).
pub fn documents() -> Vec<String> {
    let docs = repo().join("docs");
    let entries = std::fs::read_dir(&docs).unwrap_or_else(|e| panic!("{}: {e}", docs.display()));
    let mut chapters: Vec<String> = entries
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|name| name.ends_with(".md"))
        .map(|name| format!("docs/{name}"))
        .collect();
    assert!(!chapters.is_empty(), "{}: no chapter (*.md)", docs.display());
    chapters.sort();
    let mut out = vec!["README.md".to_owned()];
    out.extend(chapters);
    out
}

/// The text of one document, named relative to the repository (`"docs/exim.md"`).
pub fn document(name: &str) -> String {
    let path: PathBuf = repo().join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Every recipe of the documentation, as `(name, text)` in the order the documents show them
/// (a recipe shown again is listed once). The text is the code block's content, without the
/// fences, ending with a newline.
pub fn recipes() -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::new();
    let mut first_in: Vec<String> = Vec::new();
    for doc in documents() {
        for (name, text) in parse(&document(&doc)) {
            match out.iter().position(|(n, _)| *n == name) {
                Some(i) => assert!(
                    out[i].1 == text,
                    "recipe {name:?} appears twice with different text ({} and {doc})",
                    first_in[i]
                ),
                None => {
                    out.push((name, text));
                    first_in.push(doc.clone());
                }
            }
        }
    }
    out
}

/// The text of the recipe called `name`. Panics, naming the recipe, when no document has it.
pub fn recipe(name: &str) -> String {
    recipes().into_iter().find(|(n, _)| n == name).map(|(_, text)| text).unwrap_or_else(|| {
        panic!("no recipe {name:?} (<!-- recipe: {name} -->) in {}", documents().join(", "))
    })
}

/// The recipes of one document's text, in order.
fn parse(text: &str) -> Vec<(String, String)> {
    const OPEN: &str = "<!-- recipe: ";
    let mut out: Vec<(String, String)> = Vec::new();
    let mut lines = text.lines();
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
        match out.iter().find(|(n, _)| *n == name) {
            Some((_, first)) => {
                assert!(*first == text, "recipe {name:?} appears twice with different text")
            }
            None => out.push((name, text)),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recipes_are_found_by_their_marker() {
        let text = "intro\n<!-- recipe: a/b.conf -->\n```\nx = 1\n  y\n```\n\
                    ```\nnot a recipe\n```\n<!-- recipe: c/d.py -->\n````python\nprint(1)\n````\n\
                    <!-- recipe: a/b.conf -->\n```\nx = 1\n  y\n```\n";
        let found = parse(text);
        assert_eq!(
            found,
            [("a/b.conf".into(), "x = 1\n  y\n".into()), ("c/d.py".into(), "print(1)\n".into())]
        );
    }

    #[test]
    #[should_panic(expected = "appears twice with different text")]
    fn a_recipe_shown_twice_differently_is_refused() {
        parse("<!-- recipe: a/b.conf -->\n```\n1\n```\n<!-- recipe: a/b.conf -->\n```\n2\n```\n");
    }

    #[test]
    fn every_recipe_in_the_documentation_parses() {
        // Names are unique and file-like: the package installs them under these names.
        let all = recipes();
        assert!(!all.is_empty(), "no recipe in {:?}", documents());
        for (name, text) in all {
            assert!(name.contains('/') && !name.contains(".."), "recipe name {name:?}");
            assert!(!text.is_empty(), "recipe {name:?} is empty");
        }
    }
}
