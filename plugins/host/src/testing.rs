//! Test support (feature `test-support`): builds the workspace's example plugins from a test
//! or benchmark, with the same cargo and profile as the running binary, and returns the
//! library paths. Not part of the API.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Mutex, OnceLock};

/// The example plugins that [`example`] builds.
pub const EXAMPLES: [&str; 3] = [
    "idem-plugin-nickname",
    "idem-plugin-dmetaphone",
    "idem-plugin-faulty",
];

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// `(target dir, profile dir name)` of the running test binary (`<target>/<profile>/deps/x`).
fn target_of_current_exe() -> (PathBuf, String) {
    let exe = std::env::current_exe().expect("the test binary's path");
    let profile_dir = exe
        .parent()
        .and_then(Path::parent)
        .expect("test binaries live in <target>/<profile>/deps");
    let target = profile_dir.parent().expect("a target directory").to_owned();
    let profile = profile_dir
        .file_name()
        .and_then(|n| n.to_str())
        .expect("a profile directory")
        .to_owned();
    (target, profile)
}

fn library_file(package: &str) -> String {
    format!(
        "{}{}{}",
        std::env::consts::DLL_PREFIX,
        package.replace('-', "_"),
        std::env::consts::DLL_SUFFIX
    )
}

/// Runs `cargo build` for `packages` and returns the directory holding the libraries.
fn cargo_build(packages: &[&str], features: &[&str], target: &Path, profile: &str) -> PathBuf {
    let cargo = option_env!("CARGO").unwrap_or("cargo");
    let mut cmd = Command::new(cargo);
    cmd.current_dir(workspace_root())
        .arg("build")
        .arg("--quiet")
        .arg("--target-dir")
        .arg(target);
    // `debug` is the dev profile's directory; the others are named after their profile.
    let cargo_profile = if profile == "debug" { "dev" } else { profile };
    cmd.arg("--profile").arg(cargo_profile);
    for p in packages {
        cmd.arg("-p").arg(p);
    }
    if !features.is_empty() {
        cmd.arg("--features").arg(features.join(","));
    }
    let status = cmd.status().expect("running cargo");
    assert!(status.success(), "building {packages:?} failed: {status}");
    target.join(profile)
}

/// Path of the library of example plugin `package` (one of [`EXAMPLES`]), built on first use.
pub fn example(package: &str) -> PathBuf {
    static BUILT: OnceLock<PathBuf> = OnceLock::new();
    assert!(EXAMPLES.contains(&package), "{package} is not an example");
    let dir = BUILT.get_or_init(|| {
        let (target, profile) = target_of_current_exe();
        cargo_build(&EXAMPLES, &[], &target, &profile)
    });
    dir.join(library_file(package))
}

/// Path of example `package` built with `features`, in a target directory of its own (so
/// it never replaces the default build's file).
pub fn example_with_features(package: &str, features: &[&str]) -> PathBuf {
    static BUILT: Mutex<Option<HashMap<String, PathBuf>>> = Mutex::new(None);
    let key = format!("{package}+{}", features.join(","));
    let mut built = BUILT.lock().unwrap_or_else(|e| e.into_inner());
    let built = built.get_or_insert_with(HashMap::new);
    if let Some(path) = built.get(&key) {
        return path.clone();
    }
    let (target, profile) = target_of_current_exe();
    let target = target.join("plugin-variants").join(&key);
    let path = cargo_build(&[package], features, &target, &profile).join(library_file(package));
    built.insert(key, path.clone());
    path
}
