//! Packaging: `--version`, and `scripts/readme-recipes.sh`, which writes the documentation's
//! exim and Postfix recipes (README.md and the guide, docs/*.md) into the Debian package's
//! examples, and fails the package build when one of them is missing. The package itself is
//! built, linted, installed and removed by scripts/check-packaging.sh (run by scripts/test.sh).

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::support::{self, readme, Output};

fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// Runs `scripts/readme-recipes.sh [--from FROM] [--expect LIST] OUT AREA...`: without
/// `from`, on the repository's documentation.
fn extract(from: Option<&Path>, expect: Option<&Path>, out: &Path, areas: &[&str]) -> Output {
    let mut cmd = Command::new("bash");
    cmd.arg(repo().join("scripts/readme-recipes.sh"));
    if let Some(from) = from {
        cmd.arg("--from").arg(from);
    }
    if let Some(expect) = expect {
        cmd.arg("--expect").arg(expect);
    }
    cmd.arg(out).args(areas);
    support::run(&mut cmd, b"", crate::bin::TIMEOUT)
}

/// The one-line refusal of a run of the script that must fail, containing `reason`.
fn assert_refused(out: &Output, reason: &str, what: &str) {
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{what}: {stderr}");
    assert!(stderr.starts_with("readme-recipes: ") && stderr.contains(reason), "{what}: {stderr}");
    assert_eq!(stderr.lines().count(), 1, "{what}: {stderr}");
}

/// The names the script printed, and each written file's text.
fn written(out: &Output, dir: &Path) -> Vec<(String, String)> {
    out.assert_success("readme-recipes.sh");
    String::from_utf8(out.stdout.clone())
        .unwrap()
        .lines()
        .map(|name| {
            let text = fs::read_to_string(dir.join(name)).unwrap_or_else(|e| panic!("{name}: {e}"));
            (name.to_owned(), text)
        })
        .collect()
}

/// Every file under `dir`, relative to it, sorted.
fn files_under(dir: &Path) -> Vec<String> {
    fn walk(base: &Path, dir: &Path, out: &mut Vec<String>) {
        for entry in fs::read_dir(dir).unwrap() {
            let path: PathBuf = entry.unwrap().path();
            if path.is_dir() {
                walk(base, &path, out);
            } else {
                out.push(path.strip_prefix(base).unwrap().to_str().unwrap().to_owned());
            }
        }
    }
    let mut out = Vec::new();
    walk(dir, dir, &mut out);
    out.sort();
    out
}

#[cfg(feature = "cli")]
#[test]
fn version_prints_the_crate_version() {
    for flag in ["--version", "-V"] {
        let mut cmd = Command::new(crate::bin::path());
        cmd.arg(flag).env_clear();
        let out = support::run(&mut cmd, b"", crate::bin::TIMEOUT);
        out.assert_success(flag);
        assert_eq!(
            String::from_utf8(out.stdout).unwrap(),
            format!("mimeinject {}\n", env!("CARGO_PKG_VERSION")),
            "{flag}"
        );
        assert!(out.stderr.is_empty(), "{flag}: {}", String::from_utf8_lossy(&out.stderr));
    }
}

/// The script and the tests' reader (tests/support/readme.rs) find the same recipes, with the
/// same text, in the documentation as it is (README.md and docs/*.md).
#[test]
fn recipe_files_are_the_documentations_recipes() {
    let dir = tempfile::tempdir().unwrap();
    let out = extract(None, None, dir.path(), &[]);
    let got = written(&out, dir.path());
    assert_eq!(got, readme::recipes());
    let mut names: Vec<String> = got.into_iter().map(|(n, _)| n).collect();
    names.sort();
    assert_eq!(files_under(dir.path()), names);
}

/// With areas, only those areas' recipes are written: the package asks for exim and postfix,
/// and expects exactly the recipes of packaging/examples.list.
#[test]
fn recipe_files_for_the_package_are_the_exim_and_postfix_ones() {
    let dir = tempfile::tempdir().unwrap();
    let list = repo().join("packaging/examples.list");
    let out = extract(None, Some(&list), dir.path(), &["exim", "postfix"]);
    let got = written(&out, dir.path());
    let want: Vec<_> = readme::recipes()
        .into_iter()
        .filter(|(n, _)| n.starts_with("exim/") || n.starts_with("postfix/"))
        .collect();
    assert_eq!(got, want);
}

#[test]
fn recipe_extraction_follows_the_marker_convention() {
    let dir = tempfile::tempdir().unwrap();
    let text = "# t\r\n\
        <!-- recipe: exim/remote_smtp.conf -->\r\n\
        ```\r\n\
        transport_filter = /usr/bin/mimeinject --root /srv/files\r\n\
        ```\r\n\
        \n\
        ```\nnot a recipe\n```\n\
        \x20 <!-- recipe:   postfix/master.cf   -->  \n\
        \x20 ````conf\n\
        mimeinject unix - n n - 10 pipe\n\
        \x20 ```\n\
        \x20 argv=/usr/libexec/mimeinject/mimeinject-postfix-wrapper\n\
        \x20 ````\n\
        <!-- recipe: python/sign.py -->\n\
        ```python\nprint(1)\n```\n\
        <!-- recipe: exim/sub/dir.conf -->\n\
        ```\n\n```\n";
    let md = dir.path().join("README.md");
    fs::write(&md, text).unwrap();
    let out_dir = dir.path().join("out");
    let out = extract(Some(&md), None, &out_dir, &["exim", "postfix"]);
    assert_eq!(
        written(&out, &out_dir),
        [
            (
                "exim/remote_smtp.conf".to_owned(),
                "transport_filter = /usr/bin/mimeinject --root /srv/files\n".to_owned()
            ),
            (
                "postfix/master.cf".to_owned(),
                "mimeinject unix - n n - 10 pipe\n  ```\n  \
                 argv=/usr/libexec/mimeinject/mimeinject-postfix-wrapper\n"
                    .to_owned()
            ),
            ("exim/sub/dir.conf".to_owned(), "\n".to_owned()),
        ]
    );
    assert_eq!(
        files_under(&out_dir),
        ["exim/remote_smtp.conf", "exim/sub/dir.conf", "postfix/master.cf"]
    );

    // The same recipe shown again word for word (the README and its chapter): written once.
    let chapter = dir.path().join("chapter.md");
    fs::write(&chapter, "<!-- recipe: exim/sub/dir.conf -->\n```\n\n```\n").unwrap();
    let again = dir.path().join("again");
    let mut cmd = Command::new("bash");
    cmd.arg(repo().join("scripts/readme-recipes.sh"));
    cmd.args(["--from".as_ref(), md.as_os_str(), "--from".as_ref(), chapter.as_os_str()]);
    cmd.arg(&again).arg("exim");
    let out = support::run(&mut cmd, b"", crate::bin::TIMEOUT);
    let names: Vec<String> = written(&out, &again).into_iter().map(|(n, _)| n).collect();
    assert_eq!(names, ["exim/remote_smtp.conf", "exim/sub/dir.conf"]);
}

/// A missing recipe fails the package build: an area asked for without any recipe, a recipe of
/// the --expect list that the documentation lacks, and one the list lacks.
#[test]
fn recipe_extraction_fails_on_a_missing_recipe() {
    let dir = tempfile::tempdir().unwrap();
    let md = dir.path().join("README.md");
    fs::write(&md, "<!-- recipe: exim/a.conf -->\n```\n1\n```\n").unwrap();
    let out = extract(Some(&md), None, &dir.path().join("out0"), &["exim", "postfix"]);
    assert_refused(&out, "no recipe of area \"postfix\"", "area without a recipe");

    let list = dir.path().join("list");
    fs::write(&list, "# the package's\nexim/a.conf\n\nexim/b.conf  # gone\n").unwrap();
    let out = extract(Some(&md), Some(&list), &dir.path().join("out1"), &["exim"]);
    assert_refused(&out, "recipe \"exim/b.conf\", listed in", "a listed recipe missing");

    fs::write(&list, "").unwrap();
    let out = extract(Some(&md), Some(&list), &dir.path().join("out2"), &["exim"]);
    assert_refused(&out, "recipe \"exim/a.conf\" is not listed in", "an unlisted recipe");

    let empty = dir.path().join("empty.md");
    fs::write(&empty, "# nothing here\n").unwrap();
    let out = extract(Some(&empty), None, &dir.path().join("out3"), &[]);
    assert_refused(&out, "no recipe in", "no recipe at all");

    fs::write(&list, "exim/a.conf\n").unwrap();
    let out = extract(Some(&md), Some(&list), &dir.path().join("out4"), &["exim"]);
    assert_eq!(written(&out, &dir.path().join("out4")), [("exim/a.conf".into(), "1\n".into())]);
}

#[test]
fn recipe_extraction_refuses_bad_markers_and_names() {
    let dir = tempfile::tempdir().unwrap();
    let cases = [
        ("<!-- recipe: exim/a.conf -->\nno fence\n", "no code block right after its marker"),
        ("<!-- recipe: exim/a.conf -->\n", "no code block right after its marker"),
        (
            "<!-- recipe: exim/a -->\n```\n1\n```\n<!-- recipe: exim/a -->\n```\n2\n```\n",
            "twice with different text",
        ),
        ("<!-- recipe: exim/../../etc/x -->\n```\n1\n```\n", "not a relative file path"),
        ("<!-- recipe: /etc/x -->\n```\n1\n```\n", "not a relative file path"),
        ("<!-- recipe: exim/ -->\n```\n1\n```\n", "not a relative file path"),
        ("<!-- recipe: noarea -->\n```\n1\n```\n", "not a relative file path"),
        ("<!-- recipe: exim/a b -->\n```\n1\n```\n", "not a relative file path"),
        // Refused even when its area is not asked for: every recipe must be packageable.
        ("<!-- recipe: php/./x -->\n```\n1\n```\n", "not a relative file path"),
    ];
    for (i, (text, reason)) in cases.iter().enumerate() {
        let md = dir.path().join(format!("{i}.md"));
        fs::write(&md, text).unwrap();
        let out_dir = dir.path().join(format!("out{i}"));
        let out = extract(Some(&md), None, &out_dir, &["exim"]);
        assert_refused(&out, reason, &format!("{text:?}"));
    }
    assert!(!dir.path().join("etc").exists());
}
