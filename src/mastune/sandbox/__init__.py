"""Run untrusted Python (LLM-written solutions) in a sandbox.

Every execution gets its own short-lived process tree, never the library's own
process.  The layers, strongest first; each one that the host allows is applied
and named in :attr:`SandboxResult.isolation`:

``netns``        new, empty network namespace (no interfaces, not even ``lo`` up):
                 every connect/bind to an IP address fails.
``socket_guard`` fallback when no network namespace can be made: ``socket.socket``
                 refuses non-AF_UNIX families.  A speed bump, not a boundary.
``mntns``        private mount namespace: fresh size- and inode-capped tmpfs on
                 ``/tmp``, ``/var/tmp``, ``/dev/shm``; the working directory is a
                 tmpfs too (disk and inodes cannot be exhausted); ``/run``,
                 ``/root``, ``/home``, every top-level directory that is not part
                 of the OS (``/work``, ``/srv``, ``/mnt``, ``/opt``, ... where
                 checkouts, data and keys live) and every plain file right under
                 ``/`` are masked, except for the directories the Python install
                 needs (bind-mounted back, read-only where the kernel allows).
``procfs``       (with pidns + mntns) a fresh ``/proc`` that shows only the sandbox.
``pidns``        private PID namespace whose init is our supervisor: when the main
                 program exits (or the supervisor is killed) the kernel kills every
                 process left in it -- background sleepers, fork bombs, daemons.
``uid``          (running as root) privileges dropped to a random, otherwise unused
                 uid/gid, so RLIMIT_NPROC really bounds the process count (root is
                 exempt from it) and the code cannot write root-owned files.
``userns``       (not root) an unprivileged user namespace that makes netns/mntns/
                 pidns possible without privileges.
``rlimits``      RLIMIT_AS, RLIMIT_CPU, RLIMIT_FSIZE, RLIMIT_NPROC, RLIMIT_NOFILE,
                 RLIMIT_CORE.
``no_new_privs`` setuid binaries cannot raise privileges again.
``session``      own session / process group, SIGKILLed as a whole at the end.

The environment is rebuilt from scratch (no inherited variables, so API keys
never leak).  The interpreter runs with ``-s`` (no user site) but keeps the
system site-packages so numpy & co. import; ``-I``/``-E`` are not used because
they would drop the script directory from ``sys.path`` (harnesses import staged
modules) and ignore ``PYTHONHASHSEED``; the environment is ours anyway.

Process layout: library -> bootstrap (``bootstrap.py`` run as a script, as root
if we are root; sets up namespaces) -> [pid-namespace init, reaps] -> user
program. The bootstrap processes are non-dumpable and let go of the output
pipes once the user program runs (see :mod:`.calls`, which relies on it).
The library kills the whole tree (process group, then any process of the
sandbox uid, found through /proc and signalled through pidfds) before returning.

Not contained: reading world-readable files in the OS directories (``/usr``,
``/etc``, ``/var``, ...), except the paths a caller passes as ``hide`` (a task's
data files, the expected outputs), which are masked wherever they are, even
inside the Python install (a mount that fails ends the run as a SandboxError);
CPU share (a run may use a full core until its limits hit); tmpfs pages (at
most the mount sizes, ~180 MB per run with the defaults) are host memory that
RLIMIT_AS does not see.  Without root or user namespaces only the session kill,
rlimits and the socket guard remain -- check ``SandboxResult.isolation``.

Modules: :mod:`.limits` (limits and results), :mod:`.host` (library side),
:mod:`.bootstrap` (inside, run as a script), :mod:`.procs` (process killing),
:mod:`.plain` (the plain-data codec), :mod:`.calls` and :mod:`.callrunner`
(call a function on many inputs and get its outputs back as plain data).
"""

from .calls import CallOutcome, CallsResult, arun_calls, private_channel
from .host import arun_python, clean_stale_staging, run_python
from .limits import STATUSES, SandboxError, SandboxLimits, SandboxResult
from .procs import pids_of_uid

__all__ = [
    "STATUSES", "CallOutcome", "CallsResult", "SandboxError", "SandboxLimits", "SandboxResult",
    "arun_calls", "arun_python", "clean_stale_staging", "pids_of_uid", "private_channel", "run_python",
]
