"""The exec server: one small process inside a sandbox that runs the host's commands and file
operations, sent down one pipe (or Docker attach stream) as length-prefixed frames.

It runs with the sandbox's own interpreter (`python3 -I -S -B`, its source and config sent down
its input first: see `channel.server_command`), so it must use only the standard library and run
on any Python from 3.9. One thread, one epoll loop:
commands run concurrently, each in its own session, with its output capped and its time bounded;
a timeout kills the command's whole process tree (its process group, its session and every
descendant, stopped first so none can fork away) and nothing else.

Two modes:
- `agent`: the server runs as the agent (the bubblewrap jail); every command runs as it does.
- `root`: the server runs as root (a Docker container's main process, the bubblewrap grader jail)
  and runs each command as the role the host names: `agent`, `grader` or `root`. The agent
  cannot signal, trace or replace it. It can also stop, freeze, thaw and kill every process of a
  uid without forking (enough when the agent has used up the process limit). With `delegate`
  (Docker), the agent's commands and file operations go to a second server of this kind that it
  starts as the agent: that one spawns commands with vfork (a uid switch per command would need a
  full fork, several times slower), and if the agent kills or stops it, only the agent's requests
  in flight are lost (answered `lost`) and a new one starts.

Frame: 4-byte header length, 4-byte body length (big-endian), a JSON header, the body bytes.
The server's first frame is a hello; after that every reply carries the id of its request.
End of input ends the server (and, in root mode, every process it started, and the container).

A bubblewrap agent's jail runs `execserver.c` instead when the host can build it (`native.py`):
this protocol in agent mode, in C, because that jail starts one server per episode and the
interpreter's start was most of a short episode's cost. Change the two together:
tests/sandbox/test_native_server.py holds them to the same answers.
"""

import errno
import os
import select
import stat
import struct
import sys
import time

# What this server imports is most of its start, and a jail starts one per episode: so no
# `subprocess` where posix_spawn does (it is imported only to run a command as another uid), no
# `signal` (its enums) and no `json` (its `re`) where their C halves do the same work.
try:
    import _signal as signal
except ImportError:  # not CPython
    import signal


def _c_json():
    import _json

    class Context:  # what json.JSONDecoder hands its C scanner
        strict = True
        object_hook = object_pairs_hook = None
        parse_float, parse_int, parse_constant = float, int, float
        memo = {}

    scan = _json.make_scanner(Context())
    encode = _json.make_encoder(None, None, _json.encode_basestring_ascii, None, ":", ",", False, False, True)

    def loads(text):
        text = text.decode() if isinstance(text, (bytes, bytearray)) else text
        try:
            value, end = scan(text, 0)
        except StopIteration:
            raise ValueError("not JSON") from None
        if text[end:].strip():
            raise ValueError("extra data after JSON")
        return value

    def dumps(value):
        return "".join(encode(value, 0))

    if loads(dumps({"a": [1, 2.5, None, True, "\u00e9\n"]})) != {"a": [1, 2.5, None, True, "\u00e9\n"]}:
        raise ValueError("the C json functions do not round-trip")
    return loads, dumps


try:
    json_loads, json_dumps = _c_json()
except (ImportError, AttributeError, TypeError, ValueError):  # another interpreter: the module
    from json import dumps as json_dumps
    from json import loads as json_loads


class suppress:
    def __init__(self, *errors):
        self.errors = errors

    def __enter__(self):
        return self

    def __exit__(self, kind, value, traceback):
        return kind is not None and issubclass(kind, self.errors)


CONFIG = json_loads(globals().get("CONFIG_JSON", "{}"))
MODE = CONFIG.get("mode", "agent")
WORKDIR = CONFIG.get("workdir", "/work")
USERS = {name: tuple(ids) for name, ids in CONFIG.get("users", {}).items()}  # role -> (uid, gid)
ENV = CONFIG.get("env") or dict(os.environ)
HOMES = CONFIG.get("homes", {})
EXIT_ON_EOF = CONFIG.get("exit_pid1_on_eof", False)  # Docker: end the container with the host
LINGER = 0.25  # after a command exits, how long its output pipes may stay open before we reply
MAX_FRAME = 1 << 31
HEAD = struct.Struct(">II")

EVENT_READ, EVENT_WRITE = select.EPOLLIN, select.EPOLLOUT


class Key:
    __slots__ = ("data", "fd")

    def __init__(self, fd, data):
        self.fd, self.data = fd, data


class Selector:
    """The part of `selectors.EpollSelector` this server uses (the module pulls in collections)."""

    def __init__(self):
        self.epoll = select.epoll()
        self.keys = {}

    def register(self, fd, events, data):
        if fd in self.keys:
            raise KeyError(f"{fd} is already registered")
        self.epoll.register(fd, events)
        self.keys[fd] = Key(fd, data)

    def modify(self, fd, events, data):
        self.epoll.modify(fd, events)
        self.keys[fd].data = data

    def unregister(self, fd):
        del self.keys[fd]
        with suppress(OSError):  # already closed: epoll forgot it by itself
            self.epoll.unregister(fd)

    def select(self, timeout=None):
        ready = self.epoll.poll(-1 if timeout is None else max(timeout, 0.0))
        return [(self.keys[fd], events) for fd, events in ready if fd in self.keys]


sel = Selector()
commands = {}  # request id -> Command
lingering = []  # pipes left open by processes a finished command left behind: read and dropped


def send(header, body=b""):
    data = json_dumps(header).encode()
    frame = HEAD.pack(len(data), len(body)) + data
    if len(body) < 65536:
        write_all(frame + body)
    else:
        write_all(frame)
        write_all(body)


def write_all(data):
    view = memoryview(data)
    while view:
        view = view[os.write(1, view) :]


# ------------------------------------------------------------------------------------- processes


def proc_table(uids=False):
    """pid -> (ppid, pgid, sid, state, real uid or -1) for every process this server can see."""
    table = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        uid = -1
        try:
            with open(f"/proc/{name}/stat", "rb") as f:
                raw = f.read()
            if uids:  # not the owner of /proc/PID: a process can make that root's (PR_SET_DUMPABLE)
                with open(f"/proc/{name}/status", "rb") as f:
                    for line in f:
                        if line.startswith(b"Uid:"):
                            uid = int(line.split()[1])
                            break
        except (OSError, ValueError):
            continue
        rest = raw[raw.rindex(b")") + 2 :].split()
        table[int(name)] = (int(rest[1]), int(rest[2]), int(rest[3]), rest[0][:1], uid)
    return table


def alive(entry):
    return entry[3] not in (b"Z", b"X")


def read_ready(fd, size):
    """What a non-blocking pipe that polled readable holds: None if nothing after all, b"" at its
    end (or when it broke)."""
    try:
        return os.read(fd, size)
    except BlockingIOError:
        return None
    except OSError:
        return b""


def signal_all(pids, sig):
    for pid in pids:
        with suppress(OSError):
            os.kill(pid, sig)


def stop_until_stable(select_pids, uids=False, rounds=200):
    """SIGSTOP every process `select_pids(table, stopped)` names, again and again, until a fresh
    look finds no new one: stopped processes cannot fork, so the set stops growing."""
    stopped = set()
    for _ in range(rounds):
        table = proc_table(uids)
        wanted = {pid for pid in select_pids(table, stopped) if pid in table and alive(table[pid])}
        wanted.discard(os.getpid())
        wanted.discard(1)
        new = wanted - stopped
        if not new and all(table[p][3] in (b"T", b"t") for p in wanted if p in table and alive(table[p])):
            return stopped
        signal_all(new, signal.SIGSTOP)
        stopped |= new
        if not new:
            time.sleep(0.001)  # SIGSTOP is asynchronous: let the last ones reach their stop
    return stopped


def tree_of(root):
    def select_pids(table, stopped):
        roots = set(stopped) | {root}
        members = {p for p, e in table.items() if e[1] == root or e[2] == root} | roots
        children = {}
        for pid, entry in table.items():
            children.setdefault(entry[0], []).append(pid)
        stack = list(members)
        while stack:
            for child in children.get(stack.pop(), ()):
                if child not in members:
                    members.add(child)
                    stack.append(child)
        return members

    return select_pids


def of_uid(uid):
    return lambda table, stopped: {p for p, e in table.items() if e[4] == uid} | set(stopped)


def kill_tree(root):
    signal_all(stop_until_stable(tree_of(root)), signal.SIGKILL)


def kill_uid(uid):
    """Kill every process of `uid`; a fork bomb included. Returns how many were killed."""
    killed = set()
    for _ in range(20):
        found = stop_until_stable(of_uid(uid), uids=True)
        if not found:
            break
        signal_all(found, signal.SIGKILL)
        killed |= found
        time.sleep(0.002)
    return len(killed)


def freeze_uid(uid):
    return len(stop_until_stable(of_uid(uid), uids=True))


def thaw_uid(uid):
    pids = [p for p, e in proc_table(uids=True).items() if e[4] == uid]
    signal_all(pids, signal.SIGCONT)
    return len(pids)


# -------------------------------------------------------------------------------------- commands


class Capped:
    def __init__(self, cap):
        self.cap = cap
        self.chunks = []
        self.kept = 0
        self.dropped = 0

    def add(self, data):
        room = self.cap - self.kept
        if room > 0:
            self.chunks.append(data[:room])
            self.kept += min(room, len(data))
        self.dropped += max(0, len(data) - max(room, 0))

    def data(self):
        return b"".join(self.chunks)


def find_program(name, env):
    """`name` as exec would run it, searched on the command's own PATH (as subprocess does)."""
    if "/" in name:
        return name
    for directory in os.get_exec_path(env):
        path = os.path.join(directory, name)
        if os.access(path, os.X_OK) and not os.path.isdir(path):
            return path
    raise FileNotFoundError(errno.ENOENT, "No such file or directory", name)


# Every signal a command may find ignored back to its default: the ones Python ignores (SIGPIPE,
# SIGXFSZ), and any the arena itself inherited ignored (under `nohup`, SIGHUP), which this server
# would otherwise pass on through exec.
DEFAULT_SIGNALS = tuple(n for n in range(1, 32) if n not in (signal.SIGKILL, signal.SIGSTOP))


class Spawned:
    """What a command needs of `subprocess.Popen`, by posix_spawn (a vfork and an exec): the
    command in a session of its own, in `cwd`, with only its three pipes open and every standard
    signal at its default."""

    def __init__(self, argv, *, stdin, cwd, env):
        ours, theirs = [], []  # pipe ends: ours stay here, theirs go to the child and close here
        try:
            if stdin:
                child_in, parent_in = os.pipe()
                ours.append(parent_in)
            else:
                child_in = os.open(os.devnull, os.O_RDONLY | os.O_CLOEXEC)
            theirs.append(child_in)
            out_r, out_w = os.pipe()
            err_r, err_w = os.pipe()
            ours += [out_r, err_r]
            theirs += [out_w, err_w]
            actions = [(os.POSIX_SPAWN_DUP2, fd, target) for target, fd in enumerate(theirs)]
            os.chdir(cwd)  # posix_spawn has no cwd of its own; this server has one thread
            try:
                program = find_program(argv[0], env)
                self.pid = os.posix_spawn(program, argv, env, file_actions=actions, setsid=True,
                                          setsigdef=DEFAULT_SIGNALS)  # fmt: skip
            except OSError as e:
                e.filename = e.filename or argv[0]
                raise
            finally:
                os.chdir("/")
        except BaseException:
            for fd in ours:
                os.close(fd)
            raise
        finally:
            for fd in theirs:
                os.close(fd)
        self.stdin = os.fdopen(parent_in, "wb", buffering=0) if stdin else None
        self.stdout = os.fdopen(out_r, "rb", buffering=0)
        self.stderr = os.fdopen(err_r, "rb", buffering=0)
        self.returncode = None

    def poll(self):
        if self.returncode is None:
            try:
                pid, status = os.waitpid(self.pid, os.WNOHANG)
            except ChildProcessError:
                pid, status = self.pid, 255 << 8
            if pid:
                self.returncode = os.waitstatus_to_exitcode(status)
        return self.returncode


class Command:
    def __init__(self, req, stdin_data):
        self.id = req["id"]
        self.role = req.get("as", "agent")
        self.started = time.monotonic()
        self.deadline = self.started + max(0.001, float(req.get("timeout", 60)))
        self.linger_until = None
        cap = int(req.get("cap", 1 << 22))
        self.out, self.err = Capped(cap), Capped(cap)
        self.timed_out = False
        self.returncode = None
        self.pipes = {}
        self.stdin_data = memoryview(stdin_data) if req.get("stdin") else None
        env = dict(ENV)
        env.update(HOMES.get(self.role, {}))
        env.update(req.get("env") or {})
        cwd = req.get("cwd") or WORKDIR
        if MODE == "root" and self.role in USERS:
            import subprocess

            uid, gid = USERS[self.role]
            self.proc = subprocess.Popen(
                req["argv"],
                stdin=subprocess.PIPE if self.stdin_data is not None else subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                cwd=cwd,
                env=env,
                start_new_session=True,
                close_fds=True,
                user=uid,
                group=gid,
                extra_groups=[],
            )
        else:
            self.proc = Spawned(req["argv"], stdin=self.stdin_data is not None, cwd=cwd, env=env)
        for stream, sink in ((self.proc.stdout, self.out), (self.proc.stderr, self.err)):
            fd = stream.fileno()
            os.set_blocking(fd, False)
            self.pipes[fd] = stream
            sel.register(fd, EVENT_READ, (self.on_output, sink))
        if self.stdin_data is not None:
            fd = self.proc.stdin.fileno()
            os.set_blocking(fd, False)
            if self.stdin_data:
                sel.register(fd, EVENT_WRITE, (self.on_stdin, None))
            else:
                self.proc.stdin.close()
        self.pidfd = None
        try:
            self.pidfd = os.pidfd_open(self.proc.pid)
            sel.register(self.pidfd, EVENT_READ, (self.on_exit, None))
        except (AttributeError, OSError):
            pass  # no pidfds: the loop polls instead

    def on_output(self, fd, sink):
        data = read_ready(fd, 65536)
        if data is None:
            return
        if data:
            sink.add(data)
        else:
            self.close_pipe(fd)
        self.maybe_done()

    def on_stdin(self, fd, _):
        try:
            n = os.write(fd, self.stdin_data[:65536])
        except BlockingIOError:
            return
        except OSError:  # the command closed its stdin: the rest is not wanted
            n = len(self.stdin_data)
        self.stdin_data = self.stdin_data[n:]
        if not self.stdin_data:
            self.close_stdin()

    def close_stdin(self):
        stream = self.proc.stdin
        if stream is not None and not stream.closed:
            with suppress(KeyError, ValueError):
                sel.unregister(stream.fileno())
            stream.close()

    def on_exit(self, fd, _):
        self.poll()

    def poll(self):
        if self.returncode is None and self.proc.poll() is not None:
            self.returncode = self.proc.returncode
            if self.pidfd is not None:
                sel.unregister(self.pidfd)
                os.close(self.pidfd)
                self.pidfd = None
            self.linger_until = time.monotonic() + LINGER
        self.maybe_done()

    def close_pipe(self, fd):
        sel.unregister(fd)
        self.pipes.pop(fd).close()

    def expire(self, now):
        if self.returncode is None and now >= self.deadline and not self.timed_out:
            self.timed_out = True
            kill_tree(self.proc.pid)
        elif self.linger_until is not None and now >= self.linger_until:
            for fd in list(self.pipes):  # held open by a process left in the background
                stream = self.pipes.pop(fd)
                sel.modify(fd, EVENT_READ, (drop_output, stream))
                lingering.append(stream)
            self.maybe_done()

    def next_event(self):
        return self.linger_until if self.returncode is not None else self.deadline

    def cancel(self):
        if self.returncode is None:
            kill_tree(self.proc.pid)

    def maybe_done(self):
        if self.returncode is None or self.pipes or self.id not in commands:
            return
        del commands[self.id]
        self.close_stdin()
        if self.role == "grader" and MODE == "root":  # nothing of a grading run outlives it
            if "grader" in USERS:
                kill_uid(USERS["grader"][0])
            else:  # no uid of its own (bwrap without root): what is left of its own tree
                kill_tree(self.proc.pid)
        code = self.returncode
        out, err = self.out.data(), self.err.data()
        send(
            {
                "id": self.id,
                "exit": 128 - code if code < 0 else code,
                "timed_out": self.timed_out,
                "seconds": time.monotonic() - self.started,
                "out": len(out),
                "dropped_out": self.out.dropped,
                "dropped_err": self.err.dropped,
            },
            out + err,
        )


def same_oom_score_as_commands():
    """Raise this server's OOM score to what every command inherits from it (raising needs no
    privilege; lowering does, and the sandbox has none). Were the server lower than its commands,
    the kernel would pick a small command over a big one: scores must only differ by size."""
    with suppress(OSError), open("/proc/self/oom_score_adj", "w") as f:
        f.write("500")


def drop_output(fd, stream):
    data = read_ready(fd, 65536)
    if data == b"":
        sel.unregister(fd)
        stream.close()
        lingering.remove(stream)


def start_command(req, body):
    try:
        commands[req["id"]] = Command(req, body)
    except OSError as e:
        code = 127 if e.errno == errno.ENOENT else 126
        why = e.strerror or str(e)
        if e.filename:
            why += f": {e.filename}"
        if e.errno == errno.EAGAIN:
            why += " (the sandbox's process limit is reached)"
        what = req["argv"][0] if req.get("argv") else "the command"
        message = f"cannot run {what}: {why}\n"
        send({"id": req["id"], "exit": code, "timed_out": False, "seconds": 0.0, "out": 0,
              "dropped_out": 0, "dropped_err": 0}, message.encode())  # fmt: skip


# ----------------------------------------------------------------------------------------- files


class Role:
    """File operations with a role's permissions: in root mode, as that uid (effective only)."""

    def __init__(self, role):
        self.ids = USERS.get(role) if MODE == "root" else None

    def __enter__(self):
        if self.ids:
            os.setegid(self.ids[1])
            os.seteuid(self.ids[0])

    def __exit__(self, *exc):
        if self.ids:
            os.seteuid(0)
            os.setegid(0)


def resolve(path):
    return path if path.startswith("/") else os.path.join(WORKDIR, path)


def read_file(req):
    path = resolve(req["path"])
    cap = int(req.get("cap", 1 << 28))
    with Role(req.get("as", "agent")):
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC)
    try:
        info = os.fstat(fd)
        if stat.S_ISDIR(info.st_mode):
            raise OSError(errno.EISDIR, "Is a directory")
        if not stat.S_ISREG(info.st_mode):
            raise OSError(errno.EINVAL, "Not a regular file")
        chunks, size = [], 0
        while size <= cap:
            chunk = os.read(fd, min(1 << 20, cap + 1 - size))
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
        if size > cap:
            raise OSError(errno.EFBIG, f"File is larger than the sandbox's limit of {cap} bytes")
        return b"".join(chunks)
    finally:
        os.close(fd)


def write_file(req, body):
    path = resolve(req["path"])
    with Role(req.get("as", "agent")):
        if os.path.isdir(path):
            raise OSError(errno.EISDIR, "Is a directory")
        parent = os.path.dirname(path)
        if parent:
            os.makedirs(parent, exist_ok=True)
        flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC
        fd = os.open(path, flags, int(req.get("mode", 0o666)))
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise OSError(errno.EINVAL, "Not a regular file")
        view = memoryview(body)
        while view:
            view = view[os.write(fd, view) :]
    finally:
        os.close(fd)
    return b""


def make_dir(req):
    """Root mode: a fresh directory owned by a role, e.g. the graders' scratch."""
    path = req["path"]
    os.mkdir(path, int(req.get("mode", 0o700)))
    uid, gid = USERS.get(req.get("owner", "root"), (0, 0))
    os.chown(path, uid, gid)
    return b""


def remove_tree(req):
    import shutil

    shutil.rmtree(req["path"], ignore_errors=True)
    return b""


# -------------------------------------------------------------------------------------- delegate


class Delegate:
    """Root mode: the agent's own exec server, which this one starts as the agent and forwards the
    agent's requests to. Whatever happens to it, every request forwarded gets an answer: its own,
    or `lost` when it dies or misses its deadline (then it is killed, and started again)."""

    def __init__(self, settings):
        self.settings = settings
        self.proc = None
        self.pending = {}  # request id -> deadline
        self.outgoing = bytearray()
        self.incoming = bytearray()
        self.greeted = False

    def start(self):
        source = globals().get("b")  # our own payload, as the bootstrap read it
        if source is None:
            with open(__file__, "rb") as f:
                source = f.read()
        source = source.split(b"\n", 1)[1] if source.startswith(b"CONFIG_JSON") else source
        config = {"env": {**ENV, **HOMES.get("agent", {})}, **self.settings["config"]}
        payload = f"CONFIG_JSON = {json_dumps(config)!r}\n".encode() + source
        uid, gid = USERS["agent"]
        import subprocess

        self.proc = subprocess.Popen(
            [sys.executable, "-I", "-S", "-B", "-c", self.settings["bootstrap"], str(len(payload))],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, cwd="/",
            env=dict(ENV), start_new_session=True, user=uid, group=gid, extra_groups=[],
        )  # fmt: skip
        for stream in (self.proc.stdin, self.proc.stdout):
            os.set_blocking(stream.fileno(), False)
        sel.register(self.proc.stdout.fileno(), EVENT_READ, (self.on_output, None))
        self.outgoing = bytearray()
        self.incoming = bytearray()
        self.greeted = False
        self.send(payload)

    def send(self, data):
        if not self.outgoing:
            sel.register(self.proc.stdin.fileno(), EVENT_WRITE, (self.on_writable, None))
        self.outgoing += data

    def forward(self, req, raw):
        if self.proc is None:
            self.start()
        if req.get("op") != "cancel":
            self.pending[req["id"]] = time.monotonic() + float(req.get("timeout", 60)) + 2.0
        self.send(raw)

    def on_writable(self, fd, _):
        try:
            written = os.write(fd, self.outgoing[: 1 << 20])
        except BlockingIOError:
            return
        except OSError:
            self.died()
            return
        del self.outgoing[:written]
        if not self.outgoing:
            sel.unregister(fd)

    def on_output(self, fd, _):
        data = read_ready(fd, 1 << 20)
        if data is None:
            return
        if not data:
            self.died()
            return
        self.incoming += data
        while len(self.incoming) >= HEAD.size:
            head_len, body_len = HEAD.unpack_from(self.incoming)
            end = HEAD.size + head_len + body_len
            if head_len > 1 << 20 or body_len > self.settings.get("max_body", MAX_FRAME):
                self.died()  # the agent writes into its server's output: that server is done
                return
            if len(self.incoming) < end:
                return
            try:
                header = json_loads(bytes(self.incoming[HEAD.size : HEAD.size + head_len]))
                if not isinstance(header, dict):
                    raise ValueError("not a header")
            except ValueError:
                self.died()
                return
            frame = bytes(self.incoming[:end])
            del self.incoming[:end]
            if not self.greeted:
                self.greeted = True
                continue
            if self.pending.pop(header.get("id"), None) is not None:  # only answers to what was asked
                write_all(frame)

    def expire(self, now):
        if any(deadline <= now for deadline in self.pending.values()):
            self.died()  # stopped or stuck: it goes, and a new one serves the next request

    def next_event(self):
        return min(self.pending.values()) if self.pending else None

    def died(self):
        if self.proc is None:
            return
        proc, self.proc = self.proc, None
        for stream in (proc.stdin, proc.stdout):
            with suppress(KeyError, ValueError, OSError):
                sel.unregister(stream.fileno())  # stdin is registered only while there is data for it
            with suppress(OSError):
                stream.close()
        with suppress(OSError):
            proc.kill()
        with suppress(Exception):
            proc.wait(timeout=1)
        self.outgoing = bytearray()
        lost, self.pending = list(self.pending), {}
        for request_id in lost:
            send({"id": request_id, "lost": True})


delegate = None


# ------------------------------------------------------------------------------------------ loop


def delegated(req):
    """Whether a request is the agent's, for its own exec server (root mode with a delegate)."""
    if delegate is None:
        return False
    if req.get("op") == "cancel":
        return req.get("target") in delegate.pending
    return req.get("op") in ("exec", "read", "write") and req.get("as", "agent") == "agent"


def handle(req, body, raw=b""):
    op = req.get("op")
    if delegated(req):
        delegate.forward(req, raw)
        return
    if op == "exec":
        start_command(req, body)
        return
    if op == "cancel":
        command = commands.get(req.get("target"))
        if command is not None:
            command.cancel()
        return
    try:
        if op == "read":
            data = read_file(req)
        elif op == "write":
            data = write_file(req, body)
        elif op == "ping":
            data = b""
        elif op in ("kill_uid", "freeze_uid", "thaw_uid", "mkdir", "rmtree") and MODE != "root":
            raise OSError(errno.EPERM, f"{op} needs the root exec server")
        elif op in ("kill_uid", "freeze_uid", "thaw_uid"):
            action = {"kill_uid": kill_uid, "freeze_uid": freeze_uid, "thaw_uid": thaw_uid}[op]
            uid = 0 if req["role"] == "root" else USERS[req["role"]][0]  # root: all but this server and init
            send({"id": req["id"], "count": action(uid)})
            return
        elif op == "mkdir":
            data = make_dir(req)
        elif op == "rmtree":
            data = remove_tree(req)
        else:
            raise OSError(errno.ENOSYS, f"unknown operation {op!r}")
    except OSError as e:
        send({"id": req["id"], "errno": e.errno or errno.EIO, "message": e.strerror or str(e)})
        return
    send({"id": req["id"]}, data)


class Input:
    def __init__(self):
        self.buffer = bytearray()
        self.eof = False

    def on_read(self, fd, _):
        try:
            data = os.read(fd, 1 << 20)
        except BlockingIOError:
            return
        if not data:
            self.eof = True
            sel.unregister(fd)
            return
        self.buffer += data
        while len(self.buffer) >= HEAD.size:
            head_len, body_len = HEAD.unpack_from(self.buffer)
            if head_len > MAX_FRAME or body_len > MAX_FRAME:
                sys.stderr.write("exec server: bad frame\n")
                sys.exit(3)
            end = HEAD.size + head_len + body_len
            if len(self.buffer) < end:
                return
            req = json_loads(bytes(self.buffer[HEAD.size : HEAD.size + head_len]))
            body = bytes(self.buffer[HEAD.size + head_len : end])
            raw = bytes(self.buffer[:end])
            del self.buffer[:end]
            handle(req, body, raw)


def shutdown():
    for command in list(commands.values()):
        command.cancel()
    if MODE == "root":
        for role in ("agent", "grader"):
            if role in USERS:
                kill_uid(USERS[role][0])
        if EXIT_ON_EOF:
            with suppress(OSError):
                os.kill(1, signal.SIGTERM)  # the container's init ends the container
    sys.exit(0)


def apply_limits():
    import resource

    for name, value in CONFIG.get("rlimits", {}).items():
        limit = getattr(resource, "RLIMIT_" + name.upper())
        resource.setrlimit(limit, (value, value))


def no_inherited_fds():
    """Whatever this server was started with beyond its three streams stays out of commands
    (posix_spawn passes on every descriptor not marked close-on-exec)."""
    for name in os.listdir("/proc/self/fd"):
        if int(name) > 2:
            with suppress(OSError):
                os.set_inheritable(int(name), False)


def main():
    no_inherited_fds()
    if MODE == "root" and USERS:  # not in a user namespace of one uid, where setgroups is denied
        os.setgroups([])
    apply_limits()
    same_oom_score_as_commands()
    os.umask(0o022)
    os.set_blocking(0, False)
    source = Input()
    sel.register(0, EVENT_READ, (source.on_read, None))
    try:
        work_dev = os.stat(WORKDIR).st_dev
    except OSError:
        work_dev = None
    global delegate
    if MODE == "root" and CONFIG.get("delegate"):
        delegate = Delegate(CONFIG["delegate"])
        delegate.start()  # ready before the first command
    send({"hello": 1, "pid": os.getpid(), "mode": MODE, "work_dev": work_dev})
    while True:
        if source.eof:
            shutdown()
        now = time.monotonic()
        pending = [c.next_event() for c in commands.values()]
        if delegate is not None and delegate.next_event() is not None:
            pending.append(delegate.next_event())
        wait = max(0.0, min(pending) - now) if pending else None
        polling = any(c.pidfd is None and c.returncode is None for c in commands.values())
        if polling:
            wait = 0.01 if wait is None else min(wait, 0.01)
        for key, _ in sel.select(wait):
            callback, arg = key.data
            callback(key.fd, arg)
        now = time.monotonic()
        for command in list(commands.values()):
            if command.pidfd is None:
                command.poll()
            if command.id in commands:
                command.expire(now)
        if delegate is not None:
            delegate.expire(now)


if __name__ == "__main__":
    main()
