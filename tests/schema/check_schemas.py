#!/usr/bin/env python3
"""Keeps the JSON Schemas of images.yaml and the deployments file in step with the loader:

    check_schemas.py FLAVOURGRAPH SOURCE_DIR

- both schemas are valid draft-07 schemas;
- every example and production file validates: configs/**/images.yaml, tests/schema/
  images-every-key.yaml (every key the loader accepts, which `flavourgraph plan` accepts too),
  the deployments files of configs/ and tests/data/ (but deployments-old-format.yaml, which the
  loader rejects: it is a negative case);
- each negative case (a small change to a valid file: an unknown key, a wrong type, a value out
  of range) fails the schema AND makes `flavourgraph plan` exit 2 with the loader's message;
- the keys each strict mapping of the loader allows (its `allow({...})` lists in engine/) are
  exactly the properties of a schema object with additionalProperties: false, and back.
Exit 0 when all hold, 1 with every problem listed."""
import copy
import glob
import json
import os
import re
import subprocess
import sys
import tempfile

import jsonschema
import yaml


class Loader(yaml.SafeLoader):
    """PyYAML's safe loader without timestamps: a date stays the string the loader reads."""


Loader.yaml_implicit_resolvers = {
    k: [(tag, rx) for tag, rx in v if tag != "tag:yaml.org,2002:timestamp"]
    for k, v in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def load(path):
    with open(path, encoding="utf-8") as f:
        return yaml.load(f, Loader=Loader)


def errors(validator, doc):
    return sorted(f"{'.'.join(str(p) for p in e.absolute_path) or '<top>'}: {e.message}"
                  for e in validator.iter_errors(doc))


# A valid images.yaml the images cases change (with an app/ directory beside it).
IMAGES = {
    "registry": "oci:registry",
    "layers": {"app": {"source": "app", "dest": "/srv/app"}},
    "images": {"webserver": {
        "flavours": {"webserver": {"args": {"V": "1"}}},
        "kinds": {"image": {"repository": "restricted/webserver", "base": "oci:bases:httpd", "layers": ["app"],
                            "config": {"user": "33"}}}}},
}


def kind(d):
    return d["images"]["webserver"]["kinds"]["image"]


def flavour(d):
    return d["images"]["webserver"]["flavours"]["webserver"]


# (what, change to IMAGES, a part of the loader's message)
IMAGES_CASES = [
    ("unknown top-level key", lambda d: d.update(tagg="x"), "unknown key 'tagg'"),
    ("unknown kind key", lambda d: kind(d).update(repo="x"), "unknown key 'repo'"),
    ("unknown layer key", lambda d: d["layers"]["app"].update(mode="0644"), "unknown key 'mode'"),
    ("unknown config key", lambda d: kind(d)["config"].update(users="33"), "unknown key 'users'"),
    ("unknown flavour key", lambda d: flavour(d).update(argz={}), "unknown key 'argz'"),
    ("unknown compression key", lambda d: d.update(compression={"lvl": 3}), "unknown key 'lvl'"),
    ("unknown engine key", lambda d: d.update(engines={"m": {"url": "buildah", "slots": 2}}), "unknown key 'slots'"),
    ("images is a list", lambda d: d.update(images=[]), "expected a mapping"),
    ("incremental is not a boolean", lambda d: d["layers"]["app"].update(incremental="maybe"),
     "expected a boolean"),
    ("entrypoint is a string", lambda d: kind(d)["config"].update(entrypoint="php-fpm"), "exec form"),
    ("unknown compression format", lambda d: d.update(compression={"format": "brotli"}), "unknown compression"),
    ("gzip level over 12", lambda d: d.update(compression={"level": 15}), "is not a level from 1 to 12"),
    ("zstd level over 19", lambda d: d.update(compression={"format": "zstd", "level": 20}),
     "is not a level from 1 to 19"),
    ("no images", lambda d: d.pop("images"), "missing required key 'images'"),
    ("no repository", lambda d: kind(d).pop("repository"), "missing required key 'repository'"),
    ("owner is a name", lambda d: d["layers"]["app"].update(owner="www-data"), "not a numeric owner"),
    ("dest is relative", lambda d: d["layers"]["app"].update(dest="srv/app"), "must be an absolute path"),
    ("dest has ..", lambda d: d["layers"]["app"].update(dest="/srv/../etc"), "must be an absolute path"),
    ("from and base", lambda d: d["images"]["webserver"]["kinds"].update(
        debug={"repository": "restricted/debug", "from": "image", "base": "oci:bases:httpd"}), "remove 'base' or 'from'"),
    ("no flavours", lambda d: d["images"]["webserver"].update(flavours={}), "at least one flavour"),
    ("reserved arg name", lambda d: flavour(d)["args"].update(flavour="x"), "cannot be a build arg name"),
    ("context without containerfile", lambda d: kind(d).update(context="."), "'context' needs 'containerfile'"),
    ("max_layers under 2", lambda d: d.update(incremental={"max_layers": 1}), "not a layer count"),
    ("max_delta over 1", lambda d: d.update(incremental={"max_delta": 1.5}), "not a fraction"),
    ("unknown engine", lambda d: d.update(engines={"x": "docker"}), "unknown engine"),
    ("engine width 0", lambda d: d.update(engines={"x": {"url": "buildah", "width": 0}}), "not a number from 1 to 64"),
    ("cluster listed twice", lambda d: d.update(clusters=["eqiad", "eqiad"]), "listed twice"),
    ("cluster not a DNS label", lambda d: d.update(clusters=["Eqiad"]), "not a valid cluster name"),
    ("pattern of the whole tree", lambda d: d["layers"]["app"].update(exclude=["**"]), "matches the whole tree"),
    ("env name with =", lambda d: kind(d)["config"].update(env={"A=B": "1"}), "not a valid environment variable"),
    ("workdir is relative", lambda d: kind(d)["config"].update(workdir="srv"), "must be an absolute path"),
    ("image name with a space", lambda d: d["images"].update({"web server": d["images"]["webserver"]}),
     "image names use"),
    ("registry with a scheme", lambda d: d.update(registry="https://r.example.org"), "without a scheme"),
    ("layers is not a list", lambda d: kind(d).update(layers="app"), "expected a list of layers"),
    ("args value is a list", lambda d: flavour(d)["args"].update(V=["1"]), "expected a string"),
]


def namespace(d, name):
    return next(n for n in d["deployment_targets"] if n["namespace"] == name)


def release(d, ns, name):
    return namespace(d, ns)["releases"][name]


# (what, change to configs/example/deployments.yaml, a part of the loader's message)
DEPLOYMENTS_CASES = [
    ("unknown namespace key", lambda d: namespace(d, "mw-web").update(mw_flavor="publish"), "unknown key 'mw_flavor'"),
    ("unknown release key", lambda d: release(d, "mw-web", "canary").update(stag="x"), "unknown key 'stag'"),
    ("deploy is not a boolean", lambda d: release(d, "mw-web", "canary").update(deploy="maybe"), "expected a boolean"),
    ("debug is not a boolean", lambda d: namespace(d, "mw-web").update(debug="sometimes"), "expected a boolean"),
    ("clusters is a string", lambda d: namespace(d, "mw-cron").update(clusters="eqiad"),
     "expected a list of cluster names"),
    ("unknown stage", lambda d: release(d, "mw-web", "canary").update(stage="staging"), "unsupported stage"),
    ("no releases", lambda d: namespace(d, "mw-web").pop("releases"), "missing required key 'releases'"),
    ("no namespace", lambda d: namespace(d, "mw-web").pop("namespace"), "missing required key 'namespace'"),
    ("namespace not a DNS label", lambda d: namespace(d, "mw-web").update(namespace="../../x"),
     "not a Kubernetes namespace name"),
    ("release name not Helm's", lambda d: namespace(d, "mw-web")["releases"].update(Bad_Name={}),
     "not valid for Helm"),
    ("mapping without deployment_targets", lambda d: d.update(targets=d.pop("deployment_targets")),
     "missing the \"deployment_targets\" key"),
    ("deployment_targets is a mapping", lambda d: d.update(deployment_targets={"mw-web": {}}),
     "expected a list of namespaces"),
    ("clusters is empty", lambda d: namespace(d, "mw-cron").update(clusters=[]), "empty list"),
    ("cluster not a DNS label", lambda d: namespace(d, "mw-cron").update(clusters=["Eqiad"]),
     "not a valid cluster name"),
    ("mw_flavour is empty", lambda d: release(d, "mw-web", "next").update(mw_flavour=""), "empty value"),
    ("no mw_flavour anywhere", lambda d: namespace(d, "mw-api-ext").pop("mw_flavour"), "has no mw_flavour set"),
    ("no web_flavour anywhere", lambda d: namespace(d, "mw-web").pop("web_flavour"), "has no web_flavour set"),
    ("dir leaves the helmfile directory", lambda d: namespace(d, "mw-web").update(dir="../x"),
     "must be a relative directory"),
    ("mw_kind is a list", lambda d: namespace(d, "mw-web").update(mw_kind=["image"]), "expected a string"),
]


def plan(binary, cwd, args):
    return subprocess.run([binary, "plan", *args], cwd=cwd, capture_output=True, text=True, timeout=120)


def check_cases(binary, src, schemas, tmp):
    problems = []
    example_images = os.path.join(src, "configs/example/images.yaml")
    example_deployments = load(os.path.join(src, "configs/example/deployments.yaml"))
    os.mkdir(os.path.join(tmp, "app"))
    cases = [("images", what, change, IMAGES, says) for what, change, says in IMAGES_CASES]
    cases += [("deployments", what, change, example_deployments, says) for what, change, says in DEPLOYMENTS_CASES]
    for kind_, what, change, base, says in [("images", "the valid base", None, IMAGES, ""),
                                            ("deployments", "the valid base", None, example_deployments, "")] + cases:
        doc = copy.deepcopy(base)
        if change:
            change(doc)
        path = os.path.join(tmp, f"{kind_}.yaml")
        with open(path, "w", encoding="utf-8") as f:
            yaml.safe_dump(doc, f, sort_keys=False)
        args = ["-c", path, "--all-flavours"] if kind_ == "images" else ["-c", example_images, "-d", path]
        r = plan(binary, tmp, args)
        found = errors(schemas[kind_], doc)
        name = f"{kind_}: {what}"
        if not change:
            if r.returncode != 0 or found:
                problems.append(f"{name}: plan exits {r.returncode} ({r.stderr.strip()}), schema: {found}")
            continue
        if not found:
            problems.append(f"{name}: the schema accepts it")
        if r.returncode != 2 or says not in r.stderr:
            problems.append(f"{name}: plan exits {r.returncode}, not 2 with '{says}': {r.stderr.strip()}")
    old = os.path.join(src, "tests/data/deployments-old-format.yaml")
    if not errors(schemas["deployments"], load(old)):
        problems.append("deployments: the schema accepts tests/data/deployments-old-format.yaml")
    r = plan(binary, tmp, ["-c", example_images, "-d", old])
    if r.returncode != 2 or "no longer accepted" not in r.stderr:
        problems.append(f"deployments: plan of the old format exits {r.returncode}: {r.stderr.strip()}")
    return problems, len(cases) + 1


def check_valid_files(binary, src, schemas):
    problems = []
    every_key = os.path.join(src, "tests/schema/images-every-key.yaml")
    files = {"images": sorted(glob.glob(os.path.join(src, "configs/**/images.yaml"), recursive=True)) + [every_key],
             "deployments": sorted(glob.glob(os.path.join(src, "configs/**/deployments.yaml"), recursive=True))
             + sorted(f for f in glob.glob(os.path.join(src, "tests/data/*.yaml"))
                      if not f.endswith("deployments-old-format.yaml"))}
    for kind_, paths in files.items():
        for path in paths:
            for e in errors(schemas[kind_], load(path)):
                problems.append(f"{os.path.relpath(path, src)}: {e}")
    r = plan(binary, src, ["-c", every_key, "--all-flavours"])
    if r.returncode != 0:
        problems.append(f"plan -c tests/schema/images-every-key.yaml exits {r.returncode}: {r.stderr.strip()}")
    return problems, sum(len(p) for p in files.values())


def strict_objects(node, out):
    """The property sets of the schema's objects that refuse other keys."""
    if isinstance(node, dict):
        if node.get("additionalProperties") is False and "properties" in node:
            out.add(frozenset(node["properties"]))
        for v in node.values():
            strict_objects(v, out)
    elif isinstance(node, list):
        for v in node:
            strict_objects(v, out)
    return out


def check_keys(src, raw):
    """The loader's allow() lists against the schemas' strict objects."""
    problems, loader = [], set()
    for kind_, sources in (("images", ["engine/config.cc", "engine/config_run.cc", "engine/config_settings.cc"]),
                           ("deployments", ["engine/deployments.cc"])):
        allowed = set()
        for path in sources:
            text = open(os.path.join(src, path), encoding="utf-8").read()
            for m in re.finditer(r"\.allow\(\{([^}]*)\}\)", text):
                allowed.add(frozenset(re.findall(r'"([^"]+)"', m.group(1))))
        if not allowed:
            problems.append(f"no allow({{...}}) lists found in {sources}")
        schema = strict_objects(raw[kind_], set())
        for keys in sorted(allowed - schema, key=sorted):
            problems.append(f"{kind_}: the loader allows {sorted(keys)}; no schema object has exactly these properties")
        for keys in sorted(schema - allowed, key=sorted):
            problems.append(f"{kind_}: the schema object {sorted(keys)} matches no allow() list of the loader")
        loader |= allowed
    return problems, len(loader)


def main():
    if len(sys.argv) != 3:
        print(__doc__, file=sys.stderr)
        return 2
    binary, src = (os.path.abspath(a) for a in sys.argv[1:])
    raw, schemas = {}, {}
    for kind_ in ("images", "deployments"):
        with open(os.path.join(src, f"docs/schema/{kind_}.schema.json"), encoding="utf-8") as f:
            raw[kind_] = json.load(f)
        jsonschema.Draft7Validator.check_schema(raw[kind_])
        schemas[kind_] = jsonschema.Draft7Validator(raw[kind_])
    problems, valid = check_valid_files(binary, src, schemas)
    with tempfile.TemporaryDirectory() as tmp:
        more, negative = check_cases(binary, src, schemas, tmp)
    problems += more
    more, strict = check_keys(src, raw)
    problems += more
    for p in problems:
        print(p, file=sys.stderr)
    if problems:
        print(f"check_schemas: {len(problems)} problem(s)", file=sys.stderr)
        return 1
    print(f"check_schemas: {valid} files valid, {negative} negative cases rejected by schema and loader, "
          f"{strict} strict mappings with the loader's keys")
    return 0


if __name__ == "__main__":
    sys.exit(main())
