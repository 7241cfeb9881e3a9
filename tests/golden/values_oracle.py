#!/usr/bin/env python3
"""Independent oracle for the values files that production writes (design.md §4-§6).

Reads a deployments file and a report.json, and writes one values file per release and cluster,
with PyYAML's own yaml.dump, so that the C++ output can be compared byte for byte
(tests/golden/check_values.sh). It shares no code with flavourgraph on purpose.

    values_oracle.py --deployments FILE --report REPORT.json --registry REGISTRY --out DIR
                     [--clusters a,b] [--stage STAGE] [--scope SCOPE]

Exit status: 0 when every file is written, 2 on bad input (nothing is written then).
This is not a validator: it checks only what it needs to compute the files.
"""
import argparse
import json
import os
import sys

import yaml


class Error(Exception):
    pass


def namespace_entries(doc):
    """The list of namespace entries: the file itself, or its deployment_targets."""
    if isinstance(doc, dict):
        if "deployment_targets" not in doc:
            raise Error('mapping is missing the "deployment_targets" key')
        doc = doc["deployment_targets"]
    if not isinstance(doc, list):
        raise Error("expected a list of namespace entries")
    return doc


def image_table(report, image):
    """{flavour: ({kind: image_name}, metadata)} of one image, from a v3 or a v2 report."""
    section = report.get(image, {})
    if "flavours" in section:  # v3
        return {fl: ({kind: k["image_name"] for kind, k in v.get("kinds", {}).items()},
                     v.get("metadata", {}))
                for fl, v in section["flavours"].items()}
    if "by-flavour" in section:  # v2: no metadata
        return {fl: (dict(kinds), {}) for fl, kinds in section["by-flavour"].items()}
    raise Error(f'report has no "flavours" (v3) or "by-flavour" (v2) for image "{image}"')


def lookup(table, flavour, kind, where):
    """The built image name and the metadata of (flavour, kind); the errors are production's."""
    if flavour not in table:
        raise Error(f"{where}: Image flavour '{flavour}' not found among built images "
                    f"in {sorted(table)}")
    kinds, metadata = table[flavour]
    if kind not in kinds:
        raise Error(f"{where}: Image kind '{kind}' not found among built images for flavour "
                    f"'{flavour}' in {sorted(kinds)}")
    return kinds[kind], metadata


def setting(rel, entry, key, default=None):
    """A release's value of key if the release has the key, else its namespace's."""
    return rel[key] if key in rel else entry.get(key, default)


def releases(entries, default_clusters, stage, scope):
    """Yields (namespace, release, cluster or None, mw_flavour, web_flavour, mw_kind)."""
    for entry in entries:
        ns = entry.get("namespace")
        if "releases" not in entry:
            raise Error(f'"{ns}": no "releases" key (the old release:/canary: form is no longer '
                        'accepted; write "releases: {main: {}, canary: {stage: canaries}}")')
        if scope is not None and entry.get("scope", "train") != scope:
            continue
        debug = entry.get("debug") is True
        selected = []
        for name, rel in (entry["releases"] or {}).items():
            rel = rel or {}
            rel_stage = rel.get("stage", "testservers" if debug else "production")
            if debug and rel_stage == "canaries":
                print(f'values_oracle: warning: "{name}" in "{ns}": a canaries release in a '
                      "debug namespace is dropped", file=sys.stderr)
                continue
            if stage is not None and rel_stage != stage:
                continue
            mw, web = setting(rel, entry, "mw_flavour"), setting(rel, entry, "web_flavour")
            for key, v in (("mw_flavour", mw), ("web_flavour", web)):
                if not v:
                    raise Error(f'"{name}" in "{ns}" has no {key} set')
            kind = setting(rel, entry, "mw_kind", "debug-image" if debug else "image")
            selected.append((name, mw, web, kind))
        for cluster in entry.get("clusters") or default_clusters or [None]:
            for name, mw, web, kind in selected:
                yield ns, name, cluster, mw, web, kind


def strip(image_name, registry):
    prefix = registry + "/"
    return image_name[len(prefix):] if image_name.startswith(prefix) else image_name


def render(args):
    """{file name: content} of every selected release; raises Error before anything is written."""
    with open(args.deployments) as f:
        entries = namespace_entries(yaml.safe_load(f))
    with open(args.report) as f:
        report = json.load(f)
    mediawiki, webserver = image_table(report, "mediawiki"), image_table(report, "webserver")
    clusters = [c for c in (args.clusters or "").split(",") if c]
    files = {}
    for ns, name, cluster, mw_fl, web_fl, kind in releases(entries, clusters, args.stage,
                                                           args.scope):
        where = f'"{name}" in "{ns}"'
        mw, metadata = lookup(mediawiki, mw_fl, kind, where)
        web, _ = lookup(webserver, web_fl, "image", where)
        values = {"docker": {"registry": args.registry},
                  "main_app": {"image": strip(mw, args.registry)},
                  "mw": {"httpd": {"image_tag": strip(web, args.registry)}}}
        if "php_version" in metadata:
            values["php"] = {"version": metadata["php_version"]}
        file_name = f"{ns}-{name}" + (f"-{cluster}" if cluster is not None else "") + ".yaml"
        if file_name in files:
            raise Error(f"{where}: two releases would write {file_name}")
        files[file_name] = yaml.dump(values)
    return files


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--deployments", required=True)
    p.add_argument("--report", required=True)
    p.add_argument("--registry", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--clusters", help="default clusters, comma-separated")
    p.add_argument("--stage", choices=["testservers", "canaries", "production"])
    p.add_argument("--scope")
    args = p.parse_args()
    try:
        files = render(args)
    except Error as e:
        print(f"values_oracle: error: {e}", file=sys.stderr)
        return 2
    except (OSError, LookupError, TypeError, AttributeError, ValueError, yaml.YAMLError) as e:
        print(f"values_oracle: error: malformed input: {type(e).__name__}: {e}", file=sys.stderr)
        return 2
    os.makedirs(args.out, exist_ok=True)
    for file_name, content in files.items():
        with open(os.path.join(args.out, file_name), "w") as f:
            f.write(content)
    return 0


if __name__ == "__main__":
    sys.exit(main())
