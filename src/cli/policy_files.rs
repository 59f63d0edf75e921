//! Finding and reading the `.policy` files a command is pointed at.
//!
//! The compiler does no IO, so every command that reads policies starts here: the paths on the
//! command line become one [`SourceMap`]. Directories are searched recursively for `*.policy`
//! files; a file named explicitly is read whatever its extension. The result is sorted by display
//! name and free of duplicates, so the same tree always gives the same map (and the same bundle
//! version). Display names are relative to the current directory when the file is inside it,
//! since that is what a person types and what SARIF consumers resolve against the checkout.
//!
//! Hidden directories (`.git`, `.cache`, …) are skipped while searching, and symbolic links to
//! directories are not followed, so a link cycle cannot make the search run forever.

use anyhow::{bail, Context as _};
use std::collections::HashSet;
use std::fs;
use std::path::{Component, Path, PathBuf};
use tailor_compiler::SourceMap;

/// The extension policy files have.
const EXTENSION: &str = "policy";

/// Reads every policy file under `paths` into a source map.
///
/// Fails when a path does not exist, when no policy file is found at all, or when a file cannot
/// be read or is not UTF-8.
pub fn load(paths: &[PathBuf]) -> anyhow::Result<SourceMap> {
    let cwd = std::env::current_dir().ok();
    let mut found = Vec::new();
    for path in paths {
        let metadata = fs::metadata(path).map_err(|err| match err.kind() {
            std::io::ErrorKind::NotFound => anyhow::anyhow!("`{}` does not exist", path.display()),
            _ => anyhow::Error::new(err).context(format!("cannot read `{}`", path.display())),
        })?;
        if metadata.is_dir() {
            search(path, &mut found)?;
        } else {
            found.push(path.clone());
        }
    }
    if found.is_empty() {
        let listed: Vec<String> = paths.iter().map(|p| format!("`{}`", p.display())).collect();
        bail!("no `.{EXTENSION}` files found in {}", listed.join(", "));
    }

    let mut files: Vec<(String, PathBuf)> = found
        .into_iter()
        .map(|path| (display_name(&path, cwd.as_deref()), path))
        .collect();
    files.sort();
    // The same file may be reached twice (`tailor check p p/a.policy`); keep its first name.
    let mut seen = HashSet::new();
    files.retain(|(_, path)| seen.insert(fs::canonicalize(path).unwrap_or_else(|_| path.clone())));

    let mut sources = SourceMap::new();
    for (name, path) in files {
        let bytes = fs::read(&path).with_context(|| format!("cannot read `{name}`"))?;
        let text = String::from_utf8(bytes).map_err(|_| anyhow::anyhow!("`{name}` is not valid UTF-8"))?;
        sources.add(name, text);
    }
    tracing::debug!(files = sources.len(), "loaded policy files");
    Ok(sources)
}

/// Adds every policy file under `dir` to `found`, depth first, entries in name order.
fn search(dir: &Path, found: &mut Vec<PathBuf>) -> anyhow::Result<()> {
    let mut entries = Vec::new();
    for entry in fs::read_dir(dir).with_context(|| format!("cannot read `{}`", dir.display()))? {
        let entry = entry.with_context(|| format!("cannot read `{}`", dir.display()))?;
        entries.push(entry);
    }
    entries.sort_by_key(|e| e.file_name());
    for entry in entries {
        let path = entry.path();
        if entry.file_name().to_string_lossy().starts_with('.') {
            tracing::trace!(path = %path.display(), "skipping hidden entry");
            continue;
        }
        let kind = entry
            .file_type()
            .with_context(|| format!("cannot read `{}`", path.display()))?;
        if kind.is_dir() {
            search(&path, found)?;
        } else if is_policy(&path) && (kind.is_file() || path.is_file()) {
            // `path.is_file()` follows a symbolic link, so a link to a policy file counts.
            found.push(path);
        }
    }
    Ok(())
}

fn is_policy(path: &Path) -> bool {
    path.extension().is_some_and(|e| e == EXTENSION)
}

/// The name a file is shown under: relative to `cwd` when it is inside it, without `./`
/// components, with `/` between components.
fn display_name(path: &Path, cwd: Option<&Path>) -> String {
    let relative = match cwd {
        Some(cwd) if path.is_absolute() => path.strip_prefix(cwd).unwrap_or(path),
        _ => path,
    };
    let mut parts: Vec<String> = Vec::new();
    for component in relative.components() {
        match component {
            Component::CurDir => {}
            Component::RootDir => parts.push(String::new()),
            other => parts.push(other.as_os_str().to_string_lossy().into_owned()),
        }
    }
    match parts.as_slice() {
        [] => ".".to_string(),
        [root] if root.is_empty() => "/".to_string(),
        _ => parts.join("/"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_names_are_relative_and_clean() {
        let cwd = Path::new("/work/repo");
        let name = |p: &str| display_name(Path::new(p), Some(cwd));
        assert_eq!(name("./policies/a.policy"), "policies/a.policy");
        assert_eq!(name("/work/repo/policies/a.policy"), "policies/a.policy");
        assert_eq!(name("/elsewhere/a.policy"), "/elsewhere/a.policy");
        assert_eq!(name("../other/a.policy"), "../other/a.policy");
        assert_eq!(name("a.policy"), "a.policy");
    }

    #[test]
    fn only_policy_extension_counts() {
        assert!(is_policy(Path::new("x/a.policy")));
        assert!(!is_policy(Path::new("x/a.policy.bak")));
        assert!(!is_policy(Path::new("x/policy")));
    }
}
