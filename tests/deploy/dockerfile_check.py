#!/usr/bin/env python3
"""Static checks of the Dockerfile, since Docker cannot run in CI.

Usage: dockerfile_check.py REPO_ROOT [DOCKERFILE]

* every COPY source (not --from) exists in the repository and is not
  excluded by .dockerignore;
* the build stage installs its packages with scripts/install-deps.sh (or,
  if it calls apt-get, exactly the list in that script);
* the build commands are the documented ones (cmake -S . -B build,
  cmake --build build);
* the server, worker and worker-cuda stages end as a non-root numeric USER;
* binaries copied out of build/ are ones the CMake build produces;
* the server stage carries no LibTorch; the worker preloads jemalloc and
  installs OpenBLAS and jemalloc;
* no secret is baked into an ENV or ARG;
* .dockerignore keeps local state out of the build context.
"""
import fnmatch
import os
import re
import shlex
import sys

RUNTIME_STAGES = ("server", "worker", "worker-cuda")
REQUIRED_IGNORES = ("build/", ".pgdata/", ".cache/", ".run/", "demo-out/")
JEMALLOC = "/usr/lib/x86_64-linux-gnu/libjemalloc.so.2"


def logical_lines(text):
    """Joins backslash continuations, drops comments and blank lines."""
    out, current = [], ""
    for raw in text.splitlines():
        line = raw.rstrip()
        if not current and (not line.strip() or line.lstrip().startswith("#")):
            continue
        if line.lstrip().startswith("#"):
            continue
        if line.endswith("\\"):
            current += line[:-1] + " "
            continue
        out.append(current + line)
        current = ""
    if current:
        out.append(current)
    return out


def parse_stages(text):
    stages, order = {}, []
    name = None
    for line in logical_lines(text):
        instr, _, rest = line.strip().partition(" ")
        instr = instr.upper()
        if instr == "FROM":
            words = rest.split()
            name = words[2] if len(words) >= 3 and words[1].upper() == "AS" else f"stage{len(order)}"
            stages[name] = []
            order.append(name)
            continue
        if name is None:
            continue  # global ARGs
        stages[name].append((instr, rest.strip()))
    return stages, order


def install_deps_packages(root):
    text = open(os.path.join(root, "scripts", "install-deps.sh")).read()
    block = re.search(r"packages=\((.*?)\n\)", text, re.S)
    if not block:
        return None
    words = []
    for line in block.group(1).splitlines():
        words += line.split("#", 1)[0].split()
    return sorted(words)


def cmake_executables(root):
    """Maps build/<dir>/<name> to True for every add_executable(name) in <dir>."""
    produced = set()
    for dirpath, dirnames, filenames in os.walk(root):
        rel = os.path.relpath(dirpath, root)
        top = rel.split(os.sep)[0]
        if rel != "." and (top.startswith((".", "build")) or "node_modules" in rel):
            dirnames[:] = []
            continue
        if "CMakeLists.txt" in filenames:
            text = open(os.path.join(dirpath, "CMakeLists.txt")).read()
            for exe in re.findall(r"add_executable\(\s*([A-Za-z0-9_.+-]+)", text):
                produced.add(os.path.normpath(os.path.join("build", rel, exe)))
    return produced


def dockerignore_patterns(root):
    path = os.path.join(root, ".dockerignore")
    if not os.path.exists(path):
        return None
    return [l.strip() for l in open(path) if l.strip() and not l.startswith("#")]


def ignored(path, patterns):
    for p in patterns:
        p = p.rstrip("/")
        if fnmatch.fnmatch(path, p) or fnmatch.fnmatch(path, p + "/*") or path.startswith(p + "/"):
            return True
    return False


def main(argv):
    root = argv[1]
    dockerfile = argv[2] if len(argv) > 2 else os.path.join(root, "Dockerfile")
    text = open(dockerfile).read()
    stages, order = parse_stages(text)
    problems = []
    fail = problems.append

    patterns = dockerignore_patterns(root)
    if patterns is None:
        fail(".dockerignore is missing")
        patterns = []
    for need in REQUIRED_IGNORES:
        if not any(p.rstrip("/") == need.rstrip("/") for p in patterns):
            fail(f".dockerignore must exclude {need}")

    for stage in RUNTIME_STAGES + ("build",):
        if stage not in stages:
            fail(f"stage {stage} is missing")

    # COPY sources.
    for stage, instrs in stages.items():
        for instr, rest in instrs:
            if instr not in ("COPY", "ADD"):
                continue
            words = shlex.split(rest)
            if instr == "ADD":
                fail(f"{stage}: use COPY, not ADD ({rest})")
            if any(w.startswith("--from=") for w in words):
                continue
            sources = [w for w in words if not w.startswith("--")][:-1]
            for src in sources:
                if src == ".":
                    continue
                if not os.path.exists(os.path.join(root, src)):
                    fail(f"{stage}: COPY source {src} does not exist")
                elif ignored(src, patterns):
                    fail(f"{stage}: COPY source {src} is excluded by .dockerignore")

    # Build stage: dependencies and build commands.
    build_runs = " && ".join(rest for instr, rest in stages.get("build", []) if instr == "RUN")
    if "scripts/install-deps.sh" not in build_runs:
        apt = re.findall(r"apt-get install ([^&;|]*)", build_runs)
        listed = sorted(w for chunk in apt for w in chunk.split() if not w.startswith("-"))
        expected = install_deps_packages(root)
        if listed != expected:
            fail(f"build stage packages {listed} differ from scripts/install-deps.sh {expected}")
    if not re.search(r"cmake -S \. -B build(\s|$)", build_runs):
        fail("build stage must configure with the documented `cmake -S . -B build`")
    if not re.search(r"cmake --build build(\s|$)", build_runs):
        fail("build stage must build with the documented `cmake --build build`")

    # Binaries copied out of the build tree must be CMake executables.
    produced = cmake_executables(root)
    for stage, instrs in stages.items():
        for instr, rest in instrs:
            for path in re.findall(r"(?<![\w/.-])(build/[\w/.+-]+)", rest):
                if path.endswith(".txt") or path.count("/") < 2:
                    continue
                if os.path.normpath(path) not in produced:
                    fail(f"{stage}: {path} is not produced by any add_executable in the CMake build")

    # Runtime stages: non-root user, no secrets, the right libraries.
    for stage in RUNTIME_STAGES:
        instrs = stages.get(stage, [])
        users = [rest for instr, rest in instrs if instr == "USER"]
        if not users:
            fail(f"{stage}: no USER (runs as root)")
        else:
            user = users[-1].split(":")[0]
            if not user.isdigit() or int(user) == 0:
                fail(f"{stage}: USER {users[-1]} must be a numeric non-root uid (runAsNonRoot)")
    server_text = " ".join(rest for _, rest in stages.get("server", []))
    if re.search(r"torch", server_text, re.I):
        fail("server: must not carry LibTorch")
    worker = stages.get("worker", [])
    worker_env = " ".join(rest for instr, rest in worker if instr == "ENV")
    if f"LD_PRELOAD={JEMALLOC}" not in worker_env:
        fail(f"worker: ENV LD_PRELOAD={JEMALLOC} is missing")
    worker_runs = " ".join(rest for instr, rest in worker if instr == "RUN")
    for pkg in ("libopenblas0-openmp", "libjemalloc2"):
        if not re.search(rf"(?<![\w-]){re.escape(pkg)}(?![\w-])", worker_runs):
            fail(f"worker: does not install {pkg}")
    if not re.search(r"ARG LIBTORCH_URL", text):
        fail("worker-cuda: needs ARG LIBTORCH_URL")

    for stage, instrs in stages.items():
        for instr, rest in instrs:
            if instr not in ("ENV", "ARG"):
                continue
            for m in re.finditer(r"([A-Za-z_][A-Za-z0-9_]*)[= ]\s*(\S+)", rest):
                key, value = m.group(1), m.group(2)
                if re.search(r"TOKEN|PASSWORD|SECRET|DATABASE_URL", key, re.I) and value:
                    fail(f"{stage}: {instr} {key} bakes a secret into the image")
            if re.search(r"postgres(ql)?://[^\s:]+:[^\s@]+@", rest):
                fail(f"{stage}: {instr} contains database credentials")

    for p in problems:
        print(f"{dockerfile}: {p}", file=sys.stderr)
    print(f"dockerfile_check: {len(stages)} stages ({', '.join(order)}), {len(problems)} problems")
    return 0 if not problems else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
