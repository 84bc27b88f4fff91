"""The bare Debian 12 root of `make platform-check` (tools/platform_check.py grades in it):
made once from `debootstrap --variant=minbase bookworm` (kept as build/platform-root/base.tar),
each platform's package laid out in it as the platform lays it out, and each platform's own
setup step run there (with network): Gradescope's setup.sh from /autograder/source,
PrairieLearn's image Dockerfile replayed (COPY, ENV, RUN), INGInious's container commands
(getinput, feedback-*) stood in for by small scripts.  `inside()` runs a command in the root:
its own mount and pid namespaces, loopback only and without CAP_SYS_ADMIN unless it is a
setup step.
"""
import json
import os
import pathlib
import resource
import shutil
import subprocess
import sys
import time
import zipfile

ROOT = pathlib.Path(__file__).resolve().parent.parent
WORK = ROOT / "build" / "platform-root"
BASE = WORK / "base.tar"
FS = WORK / "root"
PREPARED = WORK / "prepared.json"
MIRROR = "http://deb.debian.org/debian"

sys.path.insert(0, str(ROOT / "grader"))
from runall.isolation import LOCKS  # noqa: E402  (where gradings reserve their sandbox users)


def say(*args):
    print(*args, flush=True)


# -- the root ---------------------------------------------------------------------------
def make_base(base_tar):
    """A minimal Debian 12 root (a tar of it) at build/platform-root/base.tar."""
    WORK.mkdir(parents=True, exist_ok=True)
    if base_tar:
        return pathlib.Path(base_tar)
    if BASE.exists():
        return BASE
    if not shutil.which("debootstrap"):
        subprocess.run(["apt-get", "-o", "DPkg::Lock::Timeout=600", "install", "-y", "debootstrap"],
                       check=True)
    tmp = WORK / "debootstrap"
    shutil.rmtree(tmp, ignore_errors=True)
    say("platform-check: debootstrap --variant=minbase bookworm (about a minute)")
    subprocess.run(["debootstrap", "--variant=minbase", "bookworm", str(tmp), MIRROR], check=True,
                   stdout=subprocess.DEVNULL)
    subprocess.run(["tar", "-C", str(tmp), "-cf", str(BASE), "."], check=True)
    shutil.rmtree(tmp)
    return BASE


def fresh_root(base):
    if FS.exists():
        subprocess.run(["rm", "-rf", "--one-file-system", str(FS)], check=True)
    FS.mkdir(parents=True)
    subprocess.run(["tar", "-C", str(FS), "-xf", str(base)], check=True)
    shutil.copy("/etc/resolv.conf", FS / "etc" / "resolv.conf")  # for apt-get, at setup only
    # apt-get in the root reuses the packages this machine downloaded (hard links: no copy)
    cache = pathlib.Path("/var/cache/apt/archives")
    for deb in cache.glob("*.deb"):
        try:
            os.link(deb, FS / "var" / "cache" / "apt" / "archives" / deb.name)
        except OSError:
            pass


def inside(command, network=False, user=None, cwd="/", env=None, cgroup=None, timeout=None,
           limits=()):
    """Run ``command`` (a shell command) in the root: mount and pid namespaces of its own,
    /dev and /proc mounted; loopback only unless ``network`` (setup steps); without
    CAP_SYS_ADMIN for gradings; as ``user`` (a uid) if given.  Returns (status, output,
    seconds, CPU seconds of the processes it started)."""
    mounts = (f'mount --bind /dev "{FS}/dev" && mount -t proc proc "{FS}/proc" && '
              f'mount -t tmpfs -o size=256m,mode=1777 tmp "{FS}/dev/shm" && ')
    # The root's gradings run as this machine's uids (no user namespace here, unlike a
    # platform's container): they reserve their sandbox users in the machine's own lock
    # folder, so that a grading beside them on this machine never takes the same user.
    mounts += (f'mkdir -p -m 700 "{LOCKS}" "{FS}{LOCKS}" && '
               f'mount --bind "{LOCKS}" "{FS}{LOCKS}" && ')
    if not network:
        mounts += "ip link set lo up && "
    run = ["chroot", str(FS)]
    if not network:  # Docker runs a container without CAP_SYS_ADMIN
        run = ["setpriv", "--bounding-set=-sys_admin", "--inh-caps=-sys_admin"] + run
    if user is not None:
        run += ["setpriv", "--reuid", str(user), "--regid", str(user), "--clear-groups"]
    variables = {"PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                 "HOME": "/root" if user is None else "/tmp", "LC_ALL": "C.UTF-8",
                 "DEBIAN_FRONTEND": "noninteractive"}
    variables.update(env or {})
    run = ["env", "-i"] + [f"{k}={v}" for k, v in variables.items()] + run
    run += ["sh", "-c", f"cd {cwd} && {command}"]
    shell = mounts + " ".join(_quote(a) for a in list(limits) + run)
    argv = ["unshare", "--mount", "--pid", "--fork", "--propagation", "private"]
    if not network:
        argv.append("--net")
    argv += ["sh", "-c", shell]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.monotonic()
    try:
        proc = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                              stdin=subprocess.DEVNULL, timeout=timeout,
                              preexec_fn=cgroup.enter if cgroup else None)
        status, output = proc.returncode, proc.stdout.decode("utf-8", "replace")
    except subprocess.TimeoutExpired as exc:
        status, output = "timeout", (exc.output or b"").decode("utf-8", "replace")
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return status, output, time.monotonic() - started, cpu


def _quote(arg):
    return "'" + str(arg).replace("'", "'\\''") + "'"


def path(rel):
    """A path of the root, given as the platform sees it (/autograder/...)."""
    return FS / str(rel).lstrip("/")


def dist(what, *args):
    subprocess.run([sys.executable, str(ROOT / "tools" / "dist.py"), what, *args], cwd=ROOT, check=True,
                   stdout=subprocess.DEVNULL)


def setup_step(name, command, env=None):
    status, output, seconds, _cpu = inside(command, network=True, env=env, timeout=1800)
    say(f"platform-check: {name}: setup step {'done' if status == 0 else 'FAILED'} in {seconds:.0f} s")
    if status != 0:
        say(output[-4000:])
        sys.exit(1)
    return seconds


# -- each platform's layout and setup step ----------------------------------------------
def lay_gradescope():
    """The zip unpacked in /autograder/source, run_autograder copied to /autograder."""
    dist("gradescope")
    source = path("/autograder/source")
    made = path("/autograder/setup-made")  # what setup.sh made in the kit (Wine's prefix) stays
    if (source / "build").exists():
        shutil.rmtree(made, ignore_errors=True)
        (source / "build").rename(made)
    shutil.rmtree(source, ignore_errors=True)
    with zipfile.ZipFile(ROOT / "dist" / "gradescope-autograder.zip") as zf:
        for info in zf.infolist():
            zf.extract(info, source)
            mode = (info.external_attr >> 16) & 0o777
            if mode:
                (source / info.filename).chmod(mode)
    shutil.copy2(source / "run_autograder", path("/autograder/run_autograder"))  # as Gradescope does
    if made.exists():
        made.rename(source / "build")


def prepare_gradescope():
    lay_gradescope()
    # Gradescope runs apt-get update, then setup.sh from the unpacked zip, as root.
    return setup_step("gradescope", "apt-get update -q >/dev/null && cd /autograder/source && bash ./setup.sh")


def dockerfile_steps(dockerfile):
    """(instruction, argument) of a Dockerfile, continuation lines joined."""
    text = dockerfile.read_text().replace("\\\n", " ")
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            word, _, rest = line.partition(" ")
            yield word.upper(), rest.strip()


def prepare_image(context, dockerfile):
    """Replay the Dockerfile's COPY, ENV and RUN in the root (FROM: the root itself);
    return the image's environment and the seconds its RUN steps took."""
    env, seconds = {}, 0.0
    for word, arg in dockerfile_steps(dockerfile):
        if word == "COPY":
            src, dest = arg.split()
            shutil.rmtree(path(dest), ignore_errors=True)
            shutil.copytree(context / src, path(dest), symlinks=True)
        elif word == "ENV":
            key, _, value = arg.partition("=")
            env[key] = value
        elif word == "RUN":
            seconds += setup_step(f"image {dockerfile.parent.name}", arg, env=env)
    return env, seconds


def prepare_prairielearn():
    dist("prairielearn")
    context = ROOT / "dist" / "prairielearn"
    env, seconds = prepare_image(context, context / "Dockerfile")
    return env, seconds


def prepare_inginious():
    dist("inginious")
    # INGInious's base image provides getinput and the feedback commands: stand-ins that
    # read the submission from /input and write what the run script said to /feedback.
    fakes = {
        "getinput": '#!/bin/sh\nf="/input/${1%%:value}.c"\n[ -f "$f" ] && cat "$f"\n',
        "feedback-result": '#!/bin/sh\necho "result $1" >> /feedback/said\n',
        "feedback-grade": '#!/bin/sh\necho "grade $1" >> /feedback/said\n',
        "feedback-msg": '#!/bin/sh\nif [ "$1" = -m ]; then printf "%s" "$2"; else cat; fi > /feedback/msg\n',
    }
    for name, text in fakes.items():
        target = path("/usr/local/bin") / name
        target.write_text(text)
        target.chmod(0o755)
    return 0.0


def prepare(base_tar):
    base = make_base(base_tar)
    fresh_root(base)
    figures = {"gradescope_setup_s": prepare_gradescope()}
    env, figures["prairielearn_image_s"] = prepare_prairielearn()
    figures["inginious_setup_s"] = prepare_inginious()
    figures["image_env"] = env
    PREPARED.write_text(json.dumps(figures))
    return figures
