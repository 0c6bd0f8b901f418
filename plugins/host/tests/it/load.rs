//! Loading: directory scan, manifest, and every refusal with its message.

use idem_plugin_abi::ABI_VERSION;
use idem_plugin_host::{PluginError, Plugins};
use sha2::{Digest, Sha256};

use crate::common::{DMETAPHONE, FAULTY, NICKNAME, example, example_with_features, scratch_dir};

#[test]
fn loads_a_directory_and_extra_paths_and_describes_them() {
    let dir = scratch_dir("dir");
    let nickname = dir.join(example(NICKNAME).file_name().unwrap());
    std::fs::copy(example(NICKNAME), &nickname).unwrap();
    std::fs::write(dir.join("README.txt"), "not a library: ignored").unwrap();
    // The same library named twice (directory and --plugin) is loaded once.
    let plugins = Plugins::load(Some(&*dir), &[example(DMETAPHONE), nickname.clone()]).unwrap();

    let manifest = plugins.manifest();
    let list = manifest.as_array().unwrap();
    assert_eq!(list.len(), 2, "{manifest:#}");
    assert_eq!(list[0]["name"], "nickname");
    assert_eq!(list[0]["version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(
        list[0]["path"],
        nickname.canonicalize().unwrap().display().to_string()
    );
    let digest = format!("{:x}", Sha256::digest(std::fs::read(&nickname).unwrap()));
    assert_eq!(list[0]["sha256"], digest);
    assert_eq!(
        list[0]["functions"],
        serde_json::json!([
            {"name": "nickname_match", "arity": 2, "argument_types": ["text", "text"],
             "return_type": "number", "deterministic": true},
            {"name": "nickname_canonical", "arity": 1, "argument_types": ["text"],
             "return_type": "text", "deterministic": true},
        ])
    );
    assert_eq!(list[1]["name"], "dmetaphone");
    assert_eq!(list[1]["functions"][0]["name"], "dmetaphone");

    let registry = plugins.registry();
    for name in [
        "nickname_match",
        "NICKNAME_CANONICAL",
        "dmetaphone",
        "dmetaphone_alt",
    ] {
        assert!(registry.get(name).is_some(), "{name}");
    }
    assert!(registry.get("levenshtein").is_some(), "built-ins stay");
    assert_eq!(
        registry.list().len(),
        idem_matching::FunctionRegistry::with_builtins()
            .list()
            .len()
            + 4
    );

    let none = Plugins::builtins_only();
    assert_eq!(none.manifest(), serde_json::json!([]));
    assert!(none.registry().get("nickname_match").is_none());
}

#[test]
fn refuses_another_abi_version_naming_library_and_versions() {
    let path = example_with_features(FAULTY, &["other-abi"]);
    let err = Plugins::load(None, &[example(NICKNAME), path.clone()]).unwrap_err();
    assert!(
        matches!(err, PluginError::AbiMismatch { found: 999, expected, .. } if expected == ABI_VERSION),
        "{err:?}"
    );
    let message = err.to_string();
    let shown = path.canonicalize().unwrap().display().to_string();
    assert!(message.contains(&shown), "{message}");
    assert!(
        message.contains("ABI version 999")
            && message.contains(&format!("expects ABI version {ABI_VERSION}")),
        "{message}"
    );
}

#[test]
fn refuses_clashes_and_files_that_are_not_plugins() {
    // Two files declaring the plugin "nickname".
    let dir = scratch_dir("clash");
    std::fs::copy(example(NICKNAME), dir.join("a.so")).unwrap();
    std::fs::copy(example(NICKNAME), dir.join("b.so")).unwrap();
    let err = Plugins::load(Some(&*dir), &[]).unwrap_err();
    assert!(matches!(err, PluginError::DuplicatePlugin { ref name, .. } if name == "nickname"));
    assert!(
        err.to_string().contains("a.so") && err.to_string().contains("b.so"),
        "{err}"
    );

    // A plugin function named like a built-in.
    let clash = example_with_features(FAULTY, &["builtin-clash"]);
    let err = Plugins::load(None, &[clash]).unwrap_err();
    let message = err.to_string();
    assert!(
        matches!(err, PluginError::Register { ref function, .. } if function == "levenshtein"),
        "{err:?}"
    );
    assert!(
        message.contains("plugin 'faulty'")
            && message.contains("'levenshtein' is already registered"),
        "{message}"
    );

    // A file that is no library at all, and a library without the plugin symbols.
    let dir = scratch_dir("garbage");
    std::fs::write(dir.join("garbage.so"), "not an ELF file").unwrap();
    let err = Plugins::load(Some(&*dir), &[]).unwrap_err();
    assert!(matches!(err, PluginError::Open { .. }), "{err:?}");
    assert!(err.to_string().contains("garbage.so"), "{err}");

    let libm = [
        "/lib/x86_64-linux-gnu/libm.so.6",
        "/usr/lib/x86_64-linux-gnu/libm.so.6",
        "/lib64/libm.so.6",
        "/usr/lib/libm.so.6",
        "/lib/aarch64-linux-gnu/libm.so.6",
    ]
    .into_iter()
    .map(std::path::PathBuf::from)
    .find(|p| p.exists())
    .expect("a libm to load");
    let err = Plugins::load(None, &[libm]).unwrap_err();
    assert!(
        matches!(
            err,
            PluginError::NotAPlugin {
                symbol: "idem_plugin_abi_version",
                ..
            }
        ),
        "{err:?}"
    );
    assert!(err.to_string().contains("is not an idem plugin"), "{err}");

    let err = Plugins::load(Some(&dir.join("missing")), &[]).unwrap_err();
    assert!(matches!(err, PluginError::Io { .. }), "{err:?}");
}

#[test]
fn the_examples_pass_the_conformance_check() {
    for package in [NICKNAME, DMETAPHONE, FAULTY] {
        let problems = idem_plugin_host::conformance::check(&example(package));
        assert!(problems.is_empty(), "{package}: {problems:#?}");
    }
    let problems =
        idem_plugin_host::conformance::check(&example_with_features(FAULTY, &["other-abi"]));
    assert_eq!(problems.len(), 1);
    assert!(problems[0].starts_with("does not load: "), "{problems:?}");
}
