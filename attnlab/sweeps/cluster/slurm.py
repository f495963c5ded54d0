"""``--slurm``: a study's workers as one SLURM job array, submitted through submitit.

Each array task is one worker (as one local worker process is): it holds ``--devices-per-trial``
GPUs (or CPU cores) and claims cells from the storage, the only coordinator, until none is left.
SLURM sends a worker USR2 ``--signal-delay`` seconds before its time limit (or preemption);
submitit's handler calls :meth:`SlurmWorker.checkpoint` and requeues the task, and the exit it
raises passes through the running cell, which is marked interrupted as on Ctrl-C: the requeued
task (or another worker) trains it again, resuming from the cell's ``last.ckpt``. ``scancel`` and
``scontrol requeue`` send SIGTERM, which the worker also handles as Ctrl-C.
"""

from __future__ import annotations

import contextlib
import dataclasses
import io
import os
import shutil
import subprocess
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.console import Console

from attnlab.errors import ConfigError
from attnlab.safe_paths import path_inside
from attnlab.sweeps.cluster.slurm_options import SlurmOptions
from attnlab.sweeps.local.launcher import progress_bar
from attnlab.sweeps.local.options import LaunchOptions
from attnlab.sweeps.local.session import Session
from attnlab.sweeps.store import ledger
from attnlab.sweeps.store.polling import Backoff
from attnlab.sweeps.store.storage import is_database, shown_url
from attnlab.sweeps.workers.worker import INTERRUPTED_STATUS, stop_under_way
from attnlab.sweeps.workers.worker_spec import WorkerSpec

if TYPE_CHECKING:
    import submitit

SLURM_ROOT = Path("runs/slurm")  # submitit's job files and the workers' logs: on a filesystem every node sees
SLURM_JOBS_ATTR = "attnlab.slurm_jobs"  # the study's submitted array job ids, newest last
NODE_LOCAL_ROOTS = ("/tmp", "/var/tmp", "/dev/shm", "/run")
LOCAL_HOSTS = ("localhost", "127.0.0.1", "::1", "")
MAX_TIME_LIMITS = 1000  # how often one task may reach its time limit and come back (submitit's countdown)
POLL_S = 2.0  # --wait's first wait between progress reads, and its wait again whenever something changed
MAX_POLL_S = 30.0  # its longest wait while nothing changes (a SLURM study's cells take minutes)
_ADVICE = "other nodes cannot reach it; use an RDB URL (postgresql://USER@HOST/DB) or a file on a shared filesystem"


def _node_local(path: Path) -> bool:
    resolved = path.expanduser().resolve()
    return any(resolved == Path(root) or Path(root) in resolved.parents for root in NODE_LOCAL_ROOTS)


def check_reachable(url: str) -> None:
    """Refuses, in one line, a storage that only this node can reach: the workers would each get their own."""
    if not is_database(url):
        if _node_local(Path(url)):
            raise ConfigError(f"--storage {url}: a journal on the node-local {Path(url).resolve().parent}; {_ADVICE}")
        return
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database or ":memory:"
        if database == ":memory:" or _node_local(Path(database)):
            raise ConfigError(f"--storage {url}: an SQLite file on this node only; {_ADVICE}")
    elif (parsed.host or "") in LOCAL_HOSTS:
        raise ConfigError(f"--storage {parsed.render_as_string()}: a database on localhost; {_ADVICE}")


def worker_count(slurm: SlurmOptions, launch: LaunchOptions, remaining: int) -> int:
    """Array size: one task per ``--devices-per-trial`` GPUs of the nodes asked for (or ``--workers`` CPU
    workers), never more than the cells left."""
    if slurm.gpus_per_node:
        if slurm.gpus_per_node % launch.devices_per_trial:
            raise ConfigError(
                f"--devices-per-trial {launch.devices_per_trial}: does not divide --gpus-per-node {slurm.gpus_per_node}"
            )
        wanted = slurm.nodes * slurm.gpus_per_node // launch.devices_per_trial
    else:
        wanted = launch.workers or slurm.nodes
    return max(1, min(wanted, remaining))


class SlurmWorker:
    """What one array task runs: a worker, in the task's own process (submitit's Checkpointable protocol)."""

    def __init__(self, spec: WorkerSpec) -> None:
        self.spec = spec

    def __call__(self) -> int:
        from attnlab.sweeps.workers.worker import main

        task = int(os.environ.get("SLURM_ARRAY_TASK_ID", "0"))
        status = main([dataclasses.replace(self.spec, slot=task).to_json()])
        if status == INTERRUPTED_STATUS:  # scancel or requeue: no result file, so submitit sees the task as not done
            raise SystemExit(status)
        return status

    def checkpoint(self) -> Any:
        """Called by submitit on the time-limit signal, before it requeues this task and exits.

        Nothing to save here: the exit it raises marks the running cell interrupted (the cell's Lightning
        checkpoints are its state). The SIGTERM the requeue brings must not cut that short.
        """
        import submitit

        stop_under_way()
        return submitit.helpers.DelayedSubmission(SlurmWorker(self.spec))


def _executor(spec: WorkerSpec, slurm: SlurmOptions, launch: LaunchOptions, tasks: int) -> submitit.SlurmExecutor:
    import submitit

    folder = path_inside(SLURM_ROOT, spec.study, "study").resolve()
    executor = submitit.SlurmExecutor(folder=folder, max_num_timeout=MAX_TIME_LIMITS)
    devices = launch.devices_per_trial
    parameters: dict[str, Any] = {
        "job_name": f"attnlab-{spec.study}",
        "time": slurm.time_min,
        "nodes": 1,
        "ntasks_per_node": 1,
        "cpus_per_task": slurm.cpus_per_worker or devices,
        "signal_delay_s": slurm.signal_delay_s,
        "array_parallelism": tasks,
        "stderr_to_stdout": True,
        "additional_parameters": {"requeue": True, **slurm.extra},
    }
    if slurm.partition:
        parameters["partition"] = slurm.partition
    if slurm.gpus_per_node:
        parameters["gpus_per_node"] = devices
    executor.update_parameters(**parameters)
    return executor


def _record_jobs(storage: Any, study_id: int, job_id: str) -> None:
    jobs = storage.get_study_system_attrs(study_id).get(SLURM_JOBS_ATTR, [])
    storage.set_study_system_attr(study_id, SLURM_JOBS_ATTR, [*jobs, job_id])


@dataclass(frozen=True)
class SlurmTask:
    """One job (or array task) as SLURM's accounting has it now."""

    job: str
    state: str
    elapsed: str
    nodes: str
    reason: str
    requeues: int  # how often it came back (requeued by a time limit, preemption or scontrol requeue)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def slurm_tasks(job_ids: Sequence[str]) -> list[SlurmTask]:
    """The tasks of ``job_ids`` from ``sacct`` (which submitit needs too), each once with its requeue count."""
    if not job_ids:
        return []
    command = ["sacct", "-D", "-X", "-n", "-P", "-j", ",".join(job_ids), "-o", "JobID,State,Elapsed,NodeList,Reason"]
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)
    except FileNotFoundError:
        raise ConfigError("--slurm: no sacct here; run it where SLURM's client commands are installed") from None
    if done.returncode:
        lines = (done.stderr or done.stdout).strip().splitlines()
        raise ConfigError(f"--slurm: sacct failed ({lines[0] if lines else done.returncode})")
    rows: dict[str, list[list[str]]] = {}
    for line in done.stdout.splitlines():
        fields = line.split("|")
        if len(fields) == 5:
            rows.setdefault(fields[0], []).append(fields)
    return [
        SlurmTask(job, *history[-1][1:], requeues=sum(row[1] == "REQUEUED" for row in history))
        for job, history in rows.items()
    ]


SLURM_TOOLS = ("sbatch", "srun", "sacct")  # what submitit needs on this node: it checks for srun at start


def check_slurm(slurm: SlurmOptions | None, launch: LaunchOptions) -> None:
    """What ``--slurm`` refuses before anything else: a storage other nodes cannot reach, local device choices."""
    if slurm is None:
        return
    check_reachable(launch.storage)  # the user's own input first, then the machine's tools
    missing = [tool for tool in SLURM_TOOLS if shutil.which(tool) is None]
    if missing:
        raise ConfigError(
            f"--slurm: {', '.join(missing)} not found on the PATH; run on a SLURM login node, or leave out --slurm"
        )
    if launch.devices is not None:
        raise ConfigError("--devices: not with --slurm, where SLURM gives each worker its GPUs; use --gpus-per-node")


def submit(
    spec: WorkerSpec, slurm: SlurmOptions, launch: LaunchOptions, remaining: int, storage: Any, study_id: int
) -> list[submitit.Job]:
    """Submits the array of workers; its tasks' jobs (one array job id, recorded in the study)."""

    tasks = worker_count(slurm, launch, remaining)
    threads = slurm.cpus_per_worker or launch.devices_per_trial
    base = dataclasses.replace(
        spec, threads=None if slurm.gpus_per_node else max(1, threads // launch.devices_per_trial)
    )
    executor = _executor(base, slurm, launch, tasks)
    import submitit

    refusal = io.StringIO()  # submitit prints sbatch's stderr too; it goes into our one line instead
    try:
        with contextlib.redirect_stderr(refusal), executor.batch():
            jobs = [executor.submit(SlurmWorker(base)) for _ in range(tasks)]
    except (submitit.core.utils.FailedJobError, submitit.core.utils.FailedSubmissionError, OSError) as error:
        said = " ".join((str(error) or refusal.getvalue()).split())
        raise ConfigError(f"--slurm: sbatch refused the job: {said[:300]}") from None
    _record_jobs(storage, study_id, jobs[0].job_id.split("_")[0])
    return jobs


def status_command(spec: WorkerSpec) -> str:
    """The command that shows the study and its jobs from a login node (a database password left out)."""
    storage = shown_url(spec.storage) if is_database(spec.storage) else spec.storage
    return f"attnlab status {spec.study} --storage {storage} --slurm"


def follow(jobs: list[submitit.Job], measure: Callable[[], ledger.Progress], console: Console, spec: WorkerSpec) -> int:
    """Shows the study's progress until it is finished or every task has ended: 0, or 1 with cells left."""
    try:
        with progress_bar(console) as bar:
            state = measure()
            task = bar.add_task(spec.study, total=state.total, completed=state.finished, failed=0, running=0)
            poll = Backoff(POLL_S, MAX_POLL_S)
            while state.finished < state.total and not all(job.done() for job in jobs):
                poll.wait()
                before, state = state, measure()
                if state != before:
                    poll.reset()
                bar.update(task, completed=state.finished, failed=state.failed, running=state.running)
    except KeyboardInterrupt:
        console.print(f"stopped following; the jobs keep running: {status_command(spec)}", soft_wrap=True)
        return INTERRUPTED_STATUS
    return 0 if state.finished == state.total else 1


def launch_on_slurm(
    spec: WorkerSpec,
    slurm: SlurmOptions,
    launch: LaunchOptions,
    session: Session,
    measure: Callable[[], ledger.Progress],
    console: Console,
) -> int:
    """Submits the workers, says the job id, and with ``--wait`` follows the study to its end; the exit status."""
    before = measure()
    jobs = submit(spec, slurm, launch, before.total - before.finished, session.storage, session.study_id)
    array = jobs[0].job_id.split("_")[0]
    console.print(
        f"{spec.study}: submitted SLURM job {array} ({len(jobs)} workers, logs in {SLURM_ROOT / spec.study}); "
        f"{status_command(spec)} shows it",
        markup=False,
        highlight=False,
        soft_wrap=True,
    )
    return follow(jobs, measure, console, spec) if slurm.wait else 0
